use wsx_core::proto::extension::deflate::{Deflater, Inflater};
#[test]
fn scratch() {
    let mut d = Deflater::new(6, 15, false);
    let mut i = Inflater::new(15);
    let mut p1 = d.compress(b"abc", false).unwrap().to_vec();
    let p2 = d.compress(b"", true).unwrap().to_vec();
    println!("abc pieces: {:02x?} + {:02x?}", p1, p2);
    p1.extend(p2);
    let mut out = Vec::new();
    let r = i.inflate(&p1, &mut out, 100).and_then(|()| i.finish(&mut out, 100));
    println!("inflated {:?} {:?}", r, String::from_utf8_lossy(&out));
    let w = d.compress(b"next", true).unwrap().to_vec();
    let mut out = Vec::new();
    let r = i.inflate(&w, &mut out, 100).and_then(|()| i.finish(&mut out, 100));
    println!("next {:02x?}: {:?} {:?}", w, r, String::from_utf8_lossy(&out));
    let mut d = Deflater::new(6, 15, false);
    let e = d.compress(b"", true).unwrap().to_vec();
    println!("fresh empty message: {:02x?}", e);
    d.compress(b"hi", true).unwrap();
    let e = d.compress(b"", true).unwrap().to_vec();
    println!("empty message after one: {:02x?}", e);
}
