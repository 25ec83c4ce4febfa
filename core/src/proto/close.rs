//! Close codes (RFC 6455 section 7.4) and the close frame's payload.

use super::error::{ProtocolError, SendError};

/// A close status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Never on the wire: a close call
    /// given 1005 sends a close frame without a code (see [`check_close`]).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a text message or close reason was not valid UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame was too big.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed (never sent on the wire).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a close frame on the wire:
    /// 1000-1003, 1007-1014 and 3000-4999.
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest close reason: a control frame's 125 bytes less the code.
pub const MAX_CLOSE_REASON: usize = crate::proto::frame::MAX_CONTROL_PAYLOAD - 2;

/// Whether a close call may send `code` and `reason`: a code valid on the
/// wire with a reason of at most [`MAX_CLOSE_REASON`] bytes, or 1005 with no
/// reason for a close frame without a code, as a browser's `close()` and
/// .NET's `WebSocketCloseStatus.Empty` send (a reason needs a code).
pub fn check_close(code: CloseCode, reason: &str) -> Result<(), SendError> {
    if code == CloseCode::NO_STATUS {
        return match reason.is_empty() {
            true => Ok(()),
            false => Err(SendError::ReasonWithoutCode),
        };
    }
    if !code.is_valid_on_wire() {
        return Err(SendError::InvalidCloseCode(code.0));
    }
    if reason.len() > MAX_CLOSE_REASON {
        return Err(SendError::CloseReasonTooLong(reason.len()));
    }
    Ok(())
}

/// Parses a close frame's payload into its code and reason. An empty payload
/// gives 1005 and an empty reason; a one-byte payload, a code not valid on the
/// wire or a reason that is not UTF-8 is an error.
pub fn parse_close_payload(payload: &[u8]) -> Result<(CloseCode, &str), ProtocolError> {
    match payload {
        [] => Ok((CloseCode::NO_STATUS, "")),
        [_] => Err(ProtocolError::ClosePayloadTooShort),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            let reason = simdutf8::compat::from_utf8(reason)
                .map_err(|e| ProtocolError::InvalidCloseReason(e.valid_up_to()))?;
            Ok((code, reason))
        }
    }
}

/// Appends a close frame's payload to `out`: nothing for [`CloseCode::NO_STATUS`]
/// (a close without a code), else the code and the reason. The caller checks
/// the code with [`CloseCode::is_valid_on_wire`] and the reason's length.
pub fn encode_close_payload(code: CloseCode, reason: &str, out: &mut Vec<u8>) {
    if code != CloseCode::NO_STATUS {
        out.extend_from_slice(&code.0.to_be_bytes());
        out.extend_from_slice(reason.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_valid_on_the_wire() {
        for code in 0..=u16::MAX {
            let valid = (1000..=1003).contains(&code)
                || (1007..=1014).contains(&code)
                || (3000..=4999).contains(&code);
            assert_eq!(CloseCode(code).is_valid_on_wire(), valid, "{code}");
        }
        for never in [
            CloseCode::NO_STATUS,
            CloseCode::ABNORMAL,
            CloseCode::TLS_HANDSHAKE,
        ] {
            assert!(!never.is_valid_on_wire());
        }
    }

    #[test]
    fn empty_payload_is_no_status() {
        assert_eq!(parse_close_payload(&[]), Ok((CloseCode::NO_STATUS, "")));
    }

    #[test]
    fn one_byte_payload_is_a_protocol_error() {
        let err = parse_close_payload(&[0x03]).unwrap_err();
        assert_eq!(err, ProtocolError::ClosePayloadTooShort);
        assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
    }

    #[test]
    fn code_and_reason() {
        let mut payload = Vec::new();
        encode_close_payload(CloseCode::GOING_AWAY, "bye \u{2764}", &mut payload);
        assert_eq!(&payload[..2], &[0x03, 0xE9]);
        assert_eq!(
            parse_close_payload(&payload),
            Ok((CloseCode::GOING_AWAY, "bye \u{2764}"))
        );
        assert_eq!(
            parse_close_payload(&[0x0F, 0xA0]),
            Ok((CloseCode(4000), ""))
        );
    }

    #[test]
    fn no_status_encodes_as_empty_payload() {
        let mut payload = Vec::new();
        encode_close_payload(CloseCode::NO_STATUS, "ignored", &mut payload);
        assert!(payload.is_empty());
    }

    #[test]
    fn invalid_codes_are_protocol_errors() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let err = parse_close_payload(&code.to_be_bytes()).unwrap_err();
            assert_eq!(err, ProtocolError::InvalidCloseCode(code));
            assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn invalid_reason_is_1007() {
        let err = parse_close_payload(&[0x03, 0xE8, b'o', b'k', 0xFF]).unwrap_err();
        assert_eq!(err, ProtocolError::InvalidCloseReason(2));
        assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
        // A reason cut in the middle of a character is invalid too.
        let err = parse_close_payload(&[0x03, 0xE8, 0xE2, 0x82]).unwrap_err();
        assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
    }
}
