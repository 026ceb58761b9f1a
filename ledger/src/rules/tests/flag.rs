//! Flags (`rules/flag.rs`): only the authority where a parcel is held
//! flags it or clears its flag.

use super::*;

#[test]
fn only_the_authority_where_the_parcel_is_held_flags_it() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 1_000);
    let eu = c.w.authority("EU");
    let bw = c.w.authority("BW");
    let flag = Body::FlagParcel {
        parcel: p,
        reason: "suspicious footprint".into(),
    };
    assert_eq!(
        rejected(c.w.apply(&eu, flag.clone())),
        "other_participants_member"
    );
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), flag.clone())),
        "not_authority"
    );
    assert_eq!(
        rejected(c.w.apply(&bw, Body::ClearFlag { parcel: p })),
        "not_flagged"
    );
    c.w.ok(&bw, flag.clone());
    assert_eq!(c.w.parcel(&p).flag.as_deref(), Some("suspicious footprint"));
    assert_eq!(rejected(c.w.apply(&bw, flag)), "already_flagged");
    let empty = Body::FlagParcel {
        parcel: p,
        reason: "".into(),
    };
    assert_eq!(rejected(c.w.apply(&bw, empty)), "field_empty");
    c.w.ok(&bw, Body::ClearFlag { parcel: p });
    assert_eq!(c.w.parcel(&p).flag, None);
}
