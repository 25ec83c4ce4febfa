//! Fuzz body: arbitrary bytes as a frame header and as the frames an engine
//! of either role receives.

use wsx_core::proto::frame::{FrameHeader, MAX_HEADER_LEN};
use wsx_core::proto::{Config, ProtocolError, Role};

use super::engine::{check_output, drive};

/// Decodes `data` as a frame header, then feeds it to both roles whole and
/// byte by byte, with the default limits and small ones: both cuts give the
/// same events, and every byte written back is a valid frame.
pub fn run(data: &[u8]) {
    check_header(data);
    let small = Config {
        max_message_size: 300,
        max_frame_size: 130,
        ..Config::default()
    };
    for role in [Role::Server, Role::Client] {
        for config in [Config::default(), small.clone()] {
            let whole = drive(role, config.clone(), data, &[]);
            let bytewise = drive(role, config.clone(), data, &[1]);
            assert_eq!(
                whole.trace, bytewise.trace,
                "{role:?}: whole vs byte by byte"
            );
            // The bytes written may differ (an error's reason can quote a
            // partly received length), but both are valid and say the same.
            check_output(role, config.auto_pong, &bytewise);
            check_output(role, config.auto_pong, &whole);
        }
    }
}

fn check_header(data: &[u8]) {
    match FrameHeader::decode(data) {
        Ok(Some((h, n))) => {
            assert!((2..=MAX_HEADER_LEN).contains(&n) && n <= data.len());
            assert_eq!(h.payload_len >> 63, 0, "a length with its top bit set");
            for cut in 0..n {
                assert_eq!(FrameHeader::decode(&data[..cut]), Ok(None), "prefix {cut}");
            }
            // Decoding is a function of the header bytes alone.
            assert_eq!(FrameHeader::decode(&data[..n]), Ok(Some((h, n))));
            let mut again = Vec::new();
            h.encode(&mut again);
            assert_eq!(again.len(), h.encoded_len());
            assert!(again.len() <= n);
            assert_eq!(FrameHeader::decode(&again), Ok(Some((h, again.len()))));
            if again.len() == n {
                // The length was minimally encoded: the bytes round-trip.
                assert_eq!(again, data[..n]);
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_LEN),
        Err(err) => {
            assert!(
                matches!(
                    err,
                    ProtocolError::ReservedOpcode(_) | ProtocolError::InvalidLength(_)
                ),
                "{err:?}"
            );
            assert_eq!(err.close_code().0, 1002);
        }
    }
}
