//! Gives the shared library a SONAME on ELF platforms, so programs linked
//! against an installed copy record `libwsx.so` and find it on their rpath.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwsx.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
