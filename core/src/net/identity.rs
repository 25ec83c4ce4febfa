//! The identity a TLS client proved with its certificate (mutual TLS): the
//! chain it sent and its leaf's subject, read from the DER without an X.509
//! library (only the few fields needed, on a chain rustls already verified).

/// The certificate a client presented to a server asking for one
/// ([`super::ClientAuth`]); rustls verified it against the client CA before
/// the handshake request was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The chain as the client sent it, leaf first, each certificate DER.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's subject distinguished name as RFC 4514 writes it, most
    /// specific first (`CN=alice,OU=ops,O=Example`); empty if it could not
    /// be read.
    pub subject: String,
}

impl PeerIdentity {
    /// The identity of a verified chain (leaf first).
    pub(super) fn new(chain: Vec<Vec<u8>>) -> PeerIdentity {
        let subject = chain
            .first()
            .and_then(|leaf| subject(leaf))
            .unwrap_or_default();
        PeerIdentity { chain, subject }
    }
}

/// One DER element: its tag, its contents, and the rest of the input.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// The contents of the element at the front of `input`, if it has `tag`.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = element(input)?;
    (found == tag).then_some((contents, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The subject of a DER certificate, as RFC 4514 text.
pub(crate) fn subject(der: &[u8]) -> Option<String> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    // [0] EXPLICIT version, then serial, signature algorithm, issuer,
    // validity, subject.
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (name, _) = expect(rest, SEQUENCE)?;
    name_to_string(name)
}

/// An X.501 Name (the contents of its SEQUENCE OF RelativeDistinguishedName)
/// as RFC 4514 text: RDNs in reverse order, joined by `,`; the attributes of
/// one RDN joined by `+`.
pub(crate) fn name_to_string(mut name: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (set, rest) = expect(name, SET)?;
        name = rest;
        let mut attributes = Vec::new();
        let mut set = set;
        while !set.is_empty() {
            let (pair, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(pair, OID)?;
            let (tag, value, _) = element(value)?;
            let key = match attribute_name(oid) {
                Some(key) => key.to_owned(),
                None => dotted(oid)?,
            };
            let text = match decode_string(tag, value) {
                Some(text) => escape(&text),
                // RFC 4514 section 2.4: the value's DER in hex.
                None => format!(
                    "#{}",
                    hex(&[&[tag], encode_len(value.len()).as_slice(), value].concat())
                ),
            };
            attributes.push(format!("{key}={text}"));
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn encode_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        // Lossless: len < 0x80.
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The short names of RFC 4514 section 3, and those OpenSSL prints.
fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        _ => return None,
    })
}

/// An OID in dotted form (`1.2.840.113549`).
fn dotted(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = value.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        }
    }
    let (&first, rest) = arcs.split_first()?;
    let (a, b) = match first {
        0..40 => (0, first),
        40..80 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in rest {
        out.push_str(&format!(".{arc}"));
    }
    Some(out)
}

/// The text of a directory string; `None` for another type.
fn decode_string(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString.
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => String::from_utf8(value.to_vec()).ok(),
        // TeletexString: taken as Latin-1, as most software does.
        0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UTF-32BE.
        0x1c => value
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

/// RFC 4514 section 2.4 escaping of an attribute value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_subject_of_a_certificate_most_specific_first() {
        let mut params = rcgen::CertificateParams::new(vec!["alice.example".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "FR");
        dn.push(rcgen::DnType::OrganizationName, "Example, Inc.");
        dn.push(rcgen::DnType::OrganizationalUnitName, "ops");
        dn.push(rcgen::DnType::CommonName, "alice");
        params.distinguished_name = dn;
        let der = cert(params);
        assert_eq!(
            subject(&der).as_deref(),
            Some("CN=alice,OU=ops,O=Example\\, Inc.,C=FR")
        );
        let identity = PeerIdentity::new(vec![der.clone()]);
        assert_eq!(identity.subject, "CN=alice,OU=ops,O=Example\\, Inc.,C=FR");
        assert_eq!(identity.chain, vec![der]);
    }

    #[test]
    fn unicode_escapes_and_unknown_attributes() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CustomDnType(vec![1, 3, 6, 1, 4, 1, 99999, 1]),
            rcgen::DnValue::PrintableString("x1".try_into().unwrap()),
        );
        dn.push(rcgen::DnType::CommonName, " Zoë #1; <a> ");
        params.distinguished_name = dn;
        let der = cert(params);
        assert_eq!(
            subject(&der).as_deref(),
            Some("CN=\\ Zoë #1\\; \\<a\\>\\ ,1.3.6.1.4.1.99999.1=x1")
        );
    }

    #[test]
    fn garbage_is_no_subject_not_a_panic() {
        assert_eq!(subject(b""), None);
        assert_eq!(subject(&[0x30, 0x82, 0xff]), None);
        assert_eq!(subject(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
        assert_eq!(PeerIdentity::new(vec![vec![1, 2, 3]]).subject, "");
        let der = cert(rcgen::CertificateParams::new(vec!["a".into()]).unwrap());
        for cut in 0..der.len() {
            let _ = subject(&der[..cut]);
        }
    }
}
