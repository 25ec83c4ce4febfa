//! Fuzz body: arbitrary bytes as a close frame's payload.

use wsx_core::proto::ProtocolError;
use wsx_core::proto::close::{CloseCode, encode_close_payload, parse_close_payload};

/// Parses `data` as a close payload and checks the outcome against RFC 6455
/// section 7.4 by hand; an accepted payload re-encodes to the same bytes.
pub fn run(data: &[u8]) {
    let expected = expected(data);
    match parse_close_payload(data) {
        Ok((code, reason)) => {
            assert_eq!(Ok(code.0), expected, "{data:?}");
            if let [_, _, rest @ ..] = data {
                assert_eq!(reason.as_bytes(), rest);
            } else {
                assert!(reason.is_empty());
            }
            let mut again = Vec::new();
            encode_close_payload(code, reason, &mut again);
            assert_eq!(again, data);
        }
        Err(err) => {
            assert_eq!(Err(err.close_code().0), expected, "{err:?} for {data:?}");
            if let ProtocolError::InvalidCloseReason(at) = err {
                let valid = std::str::from_utf8(&data[2..]).unwrap_err().valid_up_to();
                assert_eq!(at, valid);
            }
        }
    }
}

/// The code, or the close code of the error, per the RFC.
fn expected(data: &[u8]) -> Result<u16, u16> {
    match data {
        [] => Ok(CloseCode::NO_STATUS.0),
        [_] => Err(1002),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let on_wire = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            match (on_wire, std::str::from_utf8(reason).is_ok()) {
                (false, _) => Err(1002),
                (true, false) => Err(1007),
                (true, true) => Ok(code),
            }
        }
    }
}
