//! The permessage-deflate offer, the server's choice and answer, and the
//! client's check of the answer (RFC 7692 section 7.1).
//!
//! A server declines an offer with unknown, duplicate or invalid parameters
//! (section 7) and takes the next; when the client offered permessage-deflate
//! only in invalid forms, the handshake is refused with 400 and the reason,
//! so a broken client learns why instead of silently running uncompressed.
//! A client fails the handshake on any answer it could not have asked for.

use super::{Agreement, DeflateConfig, DeflateParams, NAME};
use crate::proto::handshake::{HandshakeError, Rejection, Request};

/// The largest (and default) window, in bits.
const MAX_BITS: u8 = 15;

/// The parameters of one offer or answer, as written.
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: named without a value (an offer saying "supported").
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses one `Sec-WebSocket-Extensions` element: `Ok(None)` when it is
/// another extension, `Err(reason)` when its parameters are not valid.
fn parse(element: &str) -> Result<Option<Params>, String> {
    let mut parts = element.split(';');
    let name = parts.next().unwrap_or_default().trim();
    if !name.eq_ignore_ascii_case(NAME) {
        return Ok(None);
    }
    let mut params = Params::default();
    let mut seen: Vec<&str> = Vec::new();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((key, value)) => (key.trim(), Some(unquote(value.trim()))),
            None => (part.trim(), None),
        };
        if key.is_empty() {
            return Err("empty parameter".to_owned());
        }
        if seen.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return Err(format!("parameter {key} given more than once"));
        }
        seen.push(key);
        match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => {
                params.server_no_context_takeover = flag(key, value)?;
            }
            "client_no_context_takeover" => {
                params.client_no_context_takeover = flag(key, value)?;
            }
            "server_max_window_bits" => {
                let value = value.ok_or_else(|| format!("{key} needs a value"))?;
                params.server_max_window_bits = Some(bits(key, value)?);
            }
            "client_max_window_bits" => {
                params.client_max_window_bits = Some(value.map(|v| bits(key, v)).transpose()?);
            }
            _ => return Err(format!("unknown parameter {key}")),
        }
    }
    Ok(Some(params))
}

/// A value without its double quotes, if it has them.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

fn flag(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None => Ok(true),
        Some(_) => Err(format!("{key} takes no value")),
    }
}

/// A window size: a decimal 8-15 without leading zeros.
fn bits(key: &str, value: &str) -> Result<u8, String> {
    let valid =
        !value.starts_with('0') && value.len() <= 2 && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u8>() {
        Ok(n) if valid && (8..=MAX_BITS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{key}={value} is not a window size of 8 to 15 bits"
        )),
    }
}

impl DeflateConfig {
    /// The client's offer: `permessage-deflate; client_max_window_bits`,
    /// with `=N` when limited, then `server_max_window_bits=N` when below 15
    /// and the no-context-takeover flags that are set.
    pub fn offer(&self) -> String {
        let mut offer = format!("{NAME}; client_max_window_bits");
        if self.client_max_window_bits < MAX_BITS {
            offer += &format!("={}", self.client_max_window_bits);
        }
        if self.server_max_window_bits < MAX_BITS {
            offer += &format!("; server_max_window_bits={}", self.server_max_window_bits);
        }
        if self.server_no_context_takeover {
            offer += "; server_no_context_takeover";
        }
        if self.client_no_context_takeover {
            offer += "; client_no_context_takeover";
        }
        offer
    }
}

/// The server's choice: the first valid permessage-deflate offer of
/// `request`, answered within `config`. `Ok(None)`: nothing was offered (the
/// connection goes on uncompressed). `Err`: every offer was invalid (400).
/// On success, send the answer in `Sec-WebSocket-Extensions`. `config`
/// must pass [`DeflateConfig::check`].
pub fn negotiate(
    config: &DeflateConfig,
    request: &Request,
) -> Result<Option<(String, Agreement)>, Rejection> {
    let mut first_error = None;
    for element in request.extensions() {
        match parse(element) {
            Ok(None) => {}
            Ok(Some(offer)) => return Ok(Some(answer(config, &offer))),
            Err(reason) => {
                first_error.get_or_insert_with(|| {
                    format!(
                        "invalid permessage-deflate offer \"{}\": {reason}",
                        element.escape_debug()
                    )
                });
            }
        }
    }
    match first_error {
        Some(reason) => Err(Rejection::protocol(400, reason)),
        None => Ok(None),
    }
}

/// Accepts a valid offer: the server keeps within what the client asked and
/// what its own configuration allows.
fn answer(config: &DeflateConfig, offer: &Params) -> (String, Agreement) {
    let server_bits = offer
        .server_max_window_bits
        .unwrap_or(MAX_BITS)
        .min(config.server_max_window_bits);
    // Only a client that named client_max_window_bits may be limited.
    let client_bits = match offer.client_max_window_bits {
        Some(hint) => hint.unwrap_or(MAX_BITS).min(config.client_max_window_bits),
        None => MAX_BITS,
    };
    let params = DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover
            || config.shared_compressor,
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    let mut answer = NAME.to_owned();
    if params.server_no_context_takeover {
        answer += "; server_no_context_takeover";
    }
    if params.client_no_context_takeover {
        answer += "; client_no_context_takeover";
    }
    if offer.server_max_window_bits.is_some() || server_bits < MAX_BITS {
        answer += &format!("; server_max_window_bits={server_bits}");
    }
    if client_bits < MAX_BITS {
        answer += &format!("; client_max_window_bits={client_bits}");
    }
    let agreement = Agreement {
        params,
        config: config.clone(),
    };
    (answer, agreement)
}

/// The client's check of the server's answer to `config.offer()`:
/// `answers` are the extensions the server accepted. `Ok(None)`: the server
/// declined compression. `Err`: the answer breaks RFC 7692 and the
/// connection must fail.
pub fn accept_answer<'a>(
    config: &DeflateConfig,
    answers: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Agreement>, HandshakeError> {
    let mut found = None;
    for element in answers {
        let invalid = |reason: String| HandshakeError::InvalidDeflateAnswer {
            answer: element.to_owned(),
            reason,
        };
        let Some(answer) = parse(element).map_err(invalid)? else {
            continue;
        };
        if found.is_some() {
            return Err(HandshakeError::DuplicateExtension(NAME.to_owned()));
        }
        found = Some(check_answer(config, &answer).map_err(invalid)?);
    }
    Ok(found)
}

fn check_answer(config: &DeflateConfig, answer: &Params) -> Result<Agreement, String> {
    let asked_server_bits = config.server_max_window_bits < MAX_BITS;
    let server_bits = match answer.server_max_window_bits {
        Some(bits) if bits > config.server_max_window_bits => {
            return Err(format!(
                "server_max_window_bits={bits} is larger than the {} offered",
                config.server_max_window_bits
            ));
        }
        Some(bits) => bits,
        None if asked_server_bits => {
            return Err("server_max_window_bits was offered but not answered".to_owned());
        }
        None => MAX_BITS,
    };
    let client_bits = match answer.client_max_window_bits {
        Some(Some(bits)) => bits.min(config.client_max_window_bits),
        Some(None) => return Err("client_max_window_bits needs a value in an answer".to_owned()),
        None => config.client_max_window_bits,
    };
    if config.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err("server_no_context_takeover was offered but not answered".to_owned());
    }
    Ok(Agreement {
        params: DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        },
        config: config.clone(),
    })
}
