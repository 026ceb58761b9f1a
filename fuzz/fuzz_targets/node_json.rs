//! A node's home files: byte 0 picks `node.json` (0), read as `kpnode run`
//! reads it (`setup::NodeSettings`, then every address parsed and the
//! gossip address derived from the consensus one), or
//! `node/participant.json` (1), as `kpnode genesis` reads it. What parses
//! must write and read back as itself.
#![no_main]

use kp_node::setup::{gossip_addr, parse_multiaddr, NodeSettings, ParticipantCard};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if selector % 2 == 0 {
        let Ok(settings) = serde_json::from_str::<NodeSettings>(text) else {
            return;
        };
        let json = serde_json::to_string(&settings).expect("serializes");
        let back: NodeSettings = serde_json::from_str(&json).expect("reads back");
        assert_eq!(serde_json::to_string(&back).expect("serializes"), json);
        for peer in &settings.peers {
            if let Ok(addr) = parse_multiaddr(peer) {
                let _ = gossip_addr(&addr);
            }
        }
        if let Ok(listen) = parse_multiaddr(&settings.listen) {
            if let Ok(gossip) = gossip_addr(&listen) {
                // The gossip address is the consensus one, a port up.
                assert_eq!(gossip.iter().count(), listen.iter().count());
            }
        }
    } else {
        let Ok(card) = serde_json::from_str::<ParticipantCard>(text) else {
            return;
        };
        let json = serde_json::to_string(&card).expect("serializes");
        let back: ParticipantCard = serde_json::from_str(&json).expect("reads back");
        assert_eq!(serde_json::to_string(&back).expect("serializes"), json);
    }
});
