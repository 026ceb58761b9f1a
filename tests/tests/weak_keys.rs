//! `kpnode dev`: a key anyone could sign for (the identity point, under
//! ZIP-215) is refused with `weak_key`, as a member and as a Participant's
//! authority or validator key, and the ledger does not change.

use kp_tests::{enroll_args, ok_stdout, DevNode};

/// The identity point: `01` then 31 zero bytes.
const IDENTITY: &str = "0100000000000000000000000000000000000000000000000000000000000000";
/// The identity again, its sign bit set: an encoding ZIP-215 also decodes.
const IDENTITY_SIGN_BIT: &str = "0100000000000000000000000000000000000000000000000000000000000080";

#[test]
fn keys_of_small_order_are_refused_where_they_would_enter() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node"), "BW,EU").unwrap();
    let bw = node.key_path("BW").to_string_lossy().into_owned();

    for weak in [IDENTITY, IDENTITY_SIGN_BIT] {
        node.kp_refused(
            &enroll_args(&bw, weak, "trader", "Nobody's Trading", "BW-DL-0000"),
            "weak_key",
        );
    }
    let member: Option<serde_json::Value> = node
        .client()
        .get_if_found(&format!("/v1/members/{IDENTITY}"))
        .unwrap();
    assert_eq!(member, None, "the identity key is no member");

    let (_, strong) = node.new_key(dir.path(), "angola-authority");
    for (authority, validator) in [(IDENTITY, strong.as_str()), (strong.as_str(), IDENTITY)] {
        node.kp_refused(
            &[
                "participant",
                "propose",
                "--key",
                &bw,
                "--admit",
                "AO",
                "--name",
                "Angola",
                "--authority",
                authority,
                "--validator",
                validator,
            ],
            "weak_key",
        );
    }
    let open = ok_stdout(&node.kp(&["participant", "proposals"]), "proposals");
    assert!(!open.contains("AO"), "no proposal was recorded: {open}");
}
