//! Reconnecting clients: the policy, the backoff with full jitter, and which
//! endings are worth another attempt.
//!
//! With a [`ReconnectPolicy`] in [`super::ClientConfig::reconnect`], one
//! [`super::Conn`] outlives its transport: when a connection (or an attempt)
//! ends for a reason another attempt may cure, the handler gets
//! [`super::Handler::on_disconnect`], then [`super::Handler::on_connecting`]
//! with the attempt's number and the wait before it, and later `on_open` with
//! [`super::Open::reconnect`] set. [`super::Handler::on_close`] runs once, when
//! the client gives up, the application closes it, or the loop stops.
//!
//! # Which endings are retried
//!
//! Never a close the application asked for. Never a failure that will come
//! again (a bad option, a peer that breaks the protocol, a handshake refused
//! with a 4xx status unless [`ReconnectPolicy::retry_on_4xx`]). Every other
//! failure (network errors, refused connections, timeouts, keepalive) is
//! retried. A close the peer sent, or 1006 for a connection that dropped
//! without one, is retried when its code is in
//! [`ReconnectPolicy::retry_codes`]: by default [`DEFAULT_RETRY_CODES`],
//! 1001 (going away: a server's graceful restart), 1006 (abnormal), 1011
//! (internal error), 1012 (service restart), 1013 (try again later) and 1014
//! (bad gateway).

use std::time::Duration;

use crate::defaults;
use crate::proto::CloseCode;

use super::error::{Error, ErrorKind};

/// When and how often a client reconnects.
///
/// The wait before reconnect attempt `n` (1, 2, ...) is drawn uniformly from
/// `[0, min(max_delay, initial_delay * factor^(n-1))]` ("full jitter"), so
/// many clients dropped at once do not come back at once.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// The ceiling of the first wait (default 500 ms).
    pub initial_delay: Duration,
    /// How much the ceiling grows per attempt (default 2.0): a finite number
    /// of at least 1 ([`ReconnectPolicy::validate`]).
    pub factor: f64,
    /// The largest ceiling (default 30 s).
    pub max_delay: Duration,
    /// Most reconnect attempts in a row without a lasting connection; `None`
    /// (the default) tries forever.
    pub max_attempts: Option<u32>,
    /// A connection that stays open this long starts the backoff afresh
    /// (default 10 s).
    pub reset_after: Duration,
    /// Retry after the server refused the handshake with a 4xx status
    /// (default false: 401, 403, 404 and the like rarely cure themselves).
    pub retry_on_4xx: bool,
    /// Bytes of messages `send` may queue while disconnected, sent once the
    /// next connection opens; 0 (the default) refuses such sends with
    /// [`ErrorKind::NotConnected`].
    pub queue_while_disconnected: usize,
    /// Draw each wait at random below its ceiling (default true); false waits
    /// exactly the ceiling.
    pub jitter: bool,
    /// The close codes after which the client tries again, when the peer
    /// closed (or, 1006, the connection dropped) and the application did not
    /// (default [`DEFAULT_RETRY_CODES`]). An empty set retries failures only.
    pub retry_codes: Vec<u16>,
}

/// The close codes a reconnecting client retries by default: 1001 (going
/// away, what a server sends on a graceful shutdown or restart), 1006
/// (abnormal: dropped without a close), 1011 (internal error), 1012 (service
/// restart), 1013 (try again later) and 1014 (bad gateway).
pub const DEFAULT_RETRY_CODES: [u16; 6] = [1001, 1006, 1011, 1012, 1013, 1014];

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: defaults::RECONNECT_INITIAL_DELAY,
            factor: defaults::RECONNECT_FACTOR,
            max_delay: defaults::RECONNECT_MAX_DELAY,
            max_attempts: None,
            reset_after: defaults::RECONNECT_RESET_AFTER,
            retry_on_4xx: false,
            queue_while_disconnected: 0,
            jitter: true,
            retry_codes: DEFAULT_RETRY_CODES.to_vec(),
        }
    }
}

impl ReconnectPolicy {
    /// Checks `codes` for [`ReconnectPolicy::retry_codes`]: each must be a
    /// close code a peer can send (1000 to 4999) or 1006.
    pub fn check_retry_codes(codes: &[u16]) -> Result<(), Error> {
        match codes.iter().find(|c| !(1000..=4999).contains(*c)) {
            None => Ok(()),
            Some(code) => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "reconnect.retry_codes: {code} is not a close code (1000 to 4999) to reconnect after"
                ),
            )),
        }
    }
}

/// The backoff of one client: counts attempts in a row and draws their waits.
/// The randomness comes in as an argument, so it can be tested exactly.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    attempts: u32,
}

impl Backoff {
    /// A backoff with no attempt made yet.
    pub fn new(policy: ReconnectPolicy) -> Backoff {
        Backoff {
            policy,
            attempts: 0,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ReconnectPolicy {
        &self.policy
    }

    /// Reconnect attempts made in a row so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The ceiling of the wait before attempt `attempt` (1 for the first).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let p = &self.policy;
        let growth = p.factor.powi(attempt.saturating_sub(1).min(1024) as i32);
        let secs = p.initial_delay.as_secs_f64() * growth;
        match Duration::try_from_secs_f64(secs) {
            Ok(d) => d.min(p.max_delay),
            Err(_) => p.max_delay,
        }
    }

    /// Counts the next attempt and returns its number and its wait, `unit`
    /// being a random number in `[0, 1)`; `None` once `max_attempts` were made.
    pub fn next_attempt(&mut self, unit: f64) -> Option<(u32, Duration)> {
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
        {
            return None;
        }
        self.attempts += 1;
        let ceiling = self.ceiling(self.attempts);
        let delay = match self.policy.jitter {
            true => ceiling.mul_f64(unit.clamp(0.0, 1.0)),
            false => ceiling,
        };
        Some((self.attempts, delay))
    }

    /// A connection stayed open for `up`: long enough, and the next drop
    /// starts from the first attempt again.
    pub fn connected_for(&mut self, up: Duration) {
        if up >= self.policy.reset_after {
            self.attempts = 0;
        }
    }

    /// Whether a connection that ended this way is worth another attempt:
    /// `error` is the failure (if one was reported), `code` the close code.
    pub fn worth_retrying(&self, error: Option<&Error>, code: CloseCode) -> bool {
        if let Some(error) = error {
            return match error.kind() {
                // A bad option or a peer that breaks the protocol will do so again.
                ErrorKind::InvalidArgument | ErrorKind::Protocol => false,
                ErrorKind::Handshake | ErrorKind::Proxy => match error.status() {
                    Some(400..=499) => self.policy.retry_on_4xx,
                    _ => true,
                },
                _ => true,
            };
        }
        self.policy.retry_codes.contains(&code.0)
    }
}

/// A random number in `[0, 1)` from the system's generator.
pub(super) fn random_unit() -> f64 {
    let bits = crate::proto::random::u64().unwrap_or(u64::MAX / 2) >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(100),
            factor: 2.0,
            max_delay: Duration::from_millis(1000),
            max_attempts: Some(6),
            reset_after: Duration::from_secs(5),
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn ceilings_grow_by_the_factor_up_to_the_maximum() {
        let backoff = Backoff::new(policy());
        let ms: Vec<u128> = (1..=6).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn full_jitter_scales_the_ceiling_by_the_random_unit() {
        let mut backoff = Backoff::new(policy());
        assert_eq!(
            backoff.next_attempt(0.5),
            Some((1, Duration::from_millis(50)))
        );
        assert_eq!(backoff.next_attempt(0.0), Some((2, Duration::ZERO)));
        assert_eq!(
            backoff.next_attempt(0.25),
            Some((3, Duration::from_millis(100)))
        );
    }

    #[test]
    fn without_jitter_the_wait_is_the_ceiling() {
        let mut backoff = Backoff::new(ReconnectPolicy {
            jitter: false,
            ..policy()
        });
        let waits: Vec<u128> = std::iter::from_fn(|| backoff.next_attempt(0.3))
            .map(|(_, d)| d.as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn attempts_stop_at_the_maximum_and_reset_after_a_lasting_connection() {
        let mut backoff = Backoff::new(ReconnectPolicy {
            max_attempts: Some(2),
            ..policy()
        });
        assert!(backoff.next_attempt(0.1).is_some());
        backoff.connected_for(Duration::from_secs(1));
        assert_eq!(backoff.next_attempt(0.1).map(|a| a.0), Some(2));
        assert_eq!(backoff.next_attempt(0.1), None);
        backoff.connected_for(Duration::from_secs(5));
        assert_eq!(backoff.next_attempt(0.1).map(|a| a.0), Some(1));
    }

    #[test]
    fn which_endings_are_retried() {
        let backoff = Backoff::new(policy());
        for code in [1001, 1006, 1011, 1012, 1013, 1014] {
            assert!(backoff.worth_retrying(None, CloseCode(code)), "{code}");
        }
        for code in [1000, 1002, 1003, 1007, 1008, 1009, 4000] {
            assert!(!backoff.worth_retrying(None, CloseCode(code)), "{code}");
        }
        let refused = |status| Error::refused(status, "refused");
        assert!(!backoff.worth_retrying(Some(&refused(403)), CloseCode::ABNORMAL));
        assert!(backoff.worth_retrying(Some(&refused(503)), CloseCode::ABNORMAL));
        let connect = Error::new(ErrorKind::Connect, "refused");
        assert!(backoff.worth_retrying(Some(&connect), CloseCode::ABNORMAL));
        let bad = Error::new(ErrorKind::InvalidArgument, "bad header");
        assert!(!backoff.worth_retrying(Some(&bad), CloseCode::ABNORMAL));
        let lenient = Backoff::new(ReconnectPolicy {
            retry_on_4xx: true,
            ..policy()
        });
        assert!(lenient.worth_retrying(Some(&refused(403)), CloseCode::ABNORMAL));
    }

    #[test]
    fn the_retried_close_codes_are_configurable() {
        let only_restart = Backoff::new(ReconnectPolicy {
            retry_codes: vec![1012, 4000],
            ..policy()
        });
        for (code, retried) in [(1012, true), (4000, true), (1001, false), (1006, false)] {
            assert_eq!(
                only_restart.worth_retrying(None, CloseCode(code)),
                retried,
                "{code}"
            );
        }
        // Failures do not depend on the codes.
        let connect = Error::new(ErrorKind::Connect, "refused");
        let none = Backoff::new(ReconnectPolicy {
            retry_codes: Vec::new(),
            ..policy()
        });
        assert!(none.worth_retrying(Some(&connect), CloseCode::ABNORMAL));
        assert!(!none.worth_retrying(None, CloseCode::ABNORMAL));
        assert!(ReconnectPolicy::check_retry_codes(&[1000, 1006, 4999]).is_ok());
        for bad in [0, 999, 5000] {
            assert!(
                ReconnectPolicy::check_retry_codes(&[1001, bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn random_units_stay_below_one() {
        for _ in 0..100 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit));
        }
    }
}
