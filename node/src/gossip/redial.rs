//! Configured peers, redialled with back-off whenever they drop: the wait
//! doubles at each redial, up to a bound, and starts again from the least
//! once the peer has joined or is allowed again.

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

const REDIAL_BACKOFF_MIN: Duration = Duration::from_millis(250);
const REDIAL_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A configured peer address.
pub(super) struct DialTarget {
    pub(super) addr: Multiaddr,
    /// From the address (`/p2p/...`) or learnt at the first connection.
    pub(super) peer: Option<PeerId>,
    /// The wait before the next redial: doubled at each, back to the least
    /// once the peer has joined (a peer that refuses us at once is not
    /// hammered).
    backoff: Duration,
    pub(super) redial_scheduled: bool,
}

impl DialTarget {
    pub(super) fn new(addr: Multiaddr) -> Self {
        let peer = match addr.iter().last() {
            Some(Protocol::P2p(peer)) => Some(peer),
            _ => None,
        };
        DialTarget {
            addr,
            peer,
            backoff: REDIAL_BACKOFF_MIN,
            redial_scheduled: false,
        }
    }

    /// The wait before this redial; the next one waits twice as long.
    pub(super) fn next_delay(&mut self) -> Duration {
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(REDIAL_BACKOFF_MAX);
        delay
    }

    /// The peer joined, or is allowed again: the next redial comes soon.
    pub(super) fn reset_backoff(&mut self) {
        self.backoff = REDIAL_BACKOFF_MIN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_its_bound_and_starts_again_when_reset() {
        let mut target = DialTarget::new("/ip4/127.0.0.1/tcp/9".parse().expect("an address"));
        assert_eq!(target.peer, None);
        let waits: Vec<Duration> = (0..7).map(|_| target.next_delay()).collect();
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        target.reset_backoff();
        assert_eq!(target.next_delay(), REDIAL_BACKOFF_MIN);
    }
}
