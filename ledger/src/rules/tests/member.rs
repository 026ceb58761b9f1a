//! Members (`rules/member.rs`): an authority enrols and revokes its own
//! members only, and a revoked member can do nothing.

use super::*;

#[test]
fn authority_enrols_and_revokes_its_own_members() {
    let mut c = chain();
    let m = c.w.state.member(&c.trader).unwrap().unwrap();
    assert_eq!(
        (m.participant, m.role, m.revoked),
        (code("BW"), Role::Trader, false)
    );
    let bw = c.w.authority("BW");
    c.w.ok(&bw, Body::RevokeMember { member: c.trader });
    assert!(c.w.state.member(&c.trader).unwrap().unwrap().revoked);
    assert_eq!(
        rejected(c.w.apply(&bw, Body::RevokeMember { member: c.trader })),
        "member_revoked"
    );
}

#[test]
fn only_an_authority_enrols_and_only_its_own() {
    let mut c = chain();
    let newcomer = c.w.key("newcomer");
    let enrol = Body::EnrolMember {
        member: newcomer,
        role: Role::Trader,
        name: "x".into(),
        licence: "y".into(),
        zone: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), enrol)),
        "not_authority"
    );
    let eu = c.w.authority("EU");
    assert_eq!(
        rejected(c.w.apply(&eu, Body::RevokeMember { member: c.trader })),
        "other_participants_member"
    );
    let bw = c.w.authority("BW");
    let again = Body::EnrolMember {
        member: c.trader,
        role: Role::Sorter,
        name: "x".into(),
        licence: "y".into(),
        zone: None,
    };
    assert_eq!(rejected(c.w.apply(&bw, again)), "member_exists");
    let empty = Body::EnrolMember {
        member: newcomer,
        role: Role::Trader,
        name: " ".into(),
        licence: "y".into(),
        zone: None,
    };
    assert_eq!(rejected(c.w.apply(&bw, empty)), "field_empty");
    let long = Body::EnrolMember {
        member: newcomer,
        role: Role::Trader,
        name: "n".repeat(300),
        licence: "y".into(),
        zone: None,
    };
    assert_eq!(rejected(c.w.apply(&bw, long)), "field_too_long");
}

#[test]
fn a_revoked_member_can_do_nothing() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 1_000);
    let bw = c.w.authority("BW");
    c.w.ok(&bw, Body::RevokeMember { member: c.miner });
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), World::register_body("BW", 1))),
        "member_revoked"
    );
    let offer = Body::OfferTransfer {
        parcel: p,
        to: c.trader,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), offer)),
        "member_revoked"
    );
    // Nor can anyone hand it parcels.
    let miner2 = c.w.enrol("BW", "miner2", Role::Miner, None);
    let t = c.w.register(&miner2, "BW", 5);
    let to_revoked = Body::OfferTransfer {
        parcel: t,
        to: c.miner,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&miner2, to_revoked)),
        "recipient_not_domestic"
    );
}
