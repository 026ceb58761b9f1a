//! Parcels (`rules/parcel.rs`): who registers what, and splits and merges
//! that conserve mass and keep every origin; and `apportion`, which shares
//! a whole out exactly.

use proptest::prelude::*;

use super::*;
use crate::model::{OriginShare, ParticipantCode};
use crate::rules::apportion;

#[test]
fn a_miner_registers_a_parcel_of_its_own_origin() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 12_345);
    let parcel = c.w.parcel(&p);
    assert_eq!(parcel.holder, c.miner);
    assert_eq!(parcel.milli_carats, 12_345);
    assert_eq!(parcel.status, ParcelStatus::Live);
    assert!(!parcel.is_mixed_origin());
}

#[test]
fn only_miners_of_the_origin_register() {
    let mut c = chain();
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), World::register_body("BW", 1_000))),
        "wrong_role"
    );
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), World::register_body("ZA", 1_000))),
        "origin_mismatch"
    );
    let bw = c.w.authority("BW");
    assert_eq!(
        rejected(c.w.apply(&bw, World::register_body("BW", 1_000))),
        "unknown_member"
    );
    let ve_miner = c.w.enrol("VE", "ve-miner", Role::Miner, None);
    assert_eq!(
        rejected(c.w.apply(&ve_miner, World::register_body("VE", 1_000))),
        "participant_suspended"
    );
}

#[test]
fn carats_stones_and_value_must_be_positive() {
    let mut c = chain();
    let miner = c.miner;
    let with = |f: &dyn Fn(&mut Body)| {
        let mut b = World::register_body("BW", 1_000);
        f(&mut b);
        b
    };
    let zero_carats = with(&|b| {
        if let Body::RegisterParcel { milli_carats, .. } = b {
            *milli_carats = 0
        }
    });
    let zero_stones = with(&|b| {
        if let Body::RegisterParcel { stones, .. } = b {
            *stones = 0
        }
    });
    let zero_value = with(&|b| {
        if let Body::RegisterParcel { value_cents, .. } = b {
            *value_cents = 0
        }
    });
    let huge = with(&|b| {
        if let Body::RegisterParcel { milli_carats, .. } = b {
            *milli_carats = u64::MAX
        }
    });
    assert_eq!(rejected(c.w.apply(&miner, zero_carats)), "not_positive");
    assert_eq!(rejected(c.w.apply(&miner, zero_stones)), "not_positive");
    assert_eq!(rejected(c.w.apply(&miner, zero_value)), "not_positive");
    assert_eq!(rejected(c.w.apply(&miner, huge)), "too_large");
}

#[test]
fn only_rough_diamond_hs_codes() {
    let mut c = chain();
    for (text, ok) in [
        ("7102.10", true),
        ("7102.21", true),
        ("7102.31", true),
        ("7102.29", false),
        ("7102.39", false),
        ("7104", false),
    ] {
        let mut body = World::register_body("BW", 1_000);
        if let Body::RegisterParcel { hs_code, .. } = &mut body {
            *hs_code = text.parse().unwrap();
        }
        let result = c.w.apply(&c.miner.clone(), body);
        if ok {
            assert!(result.is_ok(), "{text} is rough");
        } else {
            assert_eq!(rejected(result), "hs_code_not_rough", "{text}");
        }
    }
}

#[test]
fn a_restricted_participant_registers_only_from_its_compliant_zones() {
    let mut w = World::new();
    let body = |zone: Option<&str>| {
        let mut b = World::register_body("CF", 1_000);
        if let Body::RegisterParcel { zone: z, .. } = &mut b {
            *z = zone.map(str::to_owned);
        }
        b
    };
    // A miner registers from the zone it is enrolled for, naming it
    // (in any case) or not.
    let berberati = w.enrol("CF", "cf-berberati", Role::Miner, Some("Berbérati"));
    let parcel = w.ok(&berberati, body(None)).created[0];
    assert_eq!(w.parcel(&parcel).zones, ["Berbérati"]);
    let nola = w.enrol("CF", "cf-nola", Role::Miner, Some("Nola"));
    let parcel = w.ok(&nola, body(Some("nola"))).created[0];
    assert_eq!(w.parcel(&parcel).zones, ["Nola"]);
    // Enrolled for a zone outside the compliant ones, it registers
    // nothing.
    let bria = w.enrol("CF", "cf-bria", Role::Miner, Some("Bria"));
    assert_eq!(rejected(w.apply(&bria, body(None))), "zone_not_allowed");
    assert_eq!(
        rejected(w.apply(&bria, body(Some("Bria")))),
        "zone_not_allowed"
    );
    // Enrolled for no zone, it cannot say where it mines.
    let anywhere = w.enrol("CF", "cf-miner", Role::Miner, None);
    assert_eq!(rejected(w.apply(&anywhere, body(None))), "zone_required");
}

#[test]
fn a_miner_registers_from_the_zone_it_is_enrolled_for_and_no_other() {
    let mut w = World::new();
    let body = |origin: &str, zone: &str| {
        let mut b = World::register_body(origin, 1_000);
        if let Body::RegisterParcel { zone: z, .. } = &mut b {
            *z = Some(zone.to_owned());
        }
        b
    };
    // Laundering: a miner of a zone outside the compliant ones names
    // a compliant zone.
    let bria = w.enrol("CF", "cf-bria", Role::Miner, Some("Bria"));
    assert_eq!(
        rejected(w.apply(&bria, body("CF", "Berbérati"))),
        "zone_mismatch"
    );
    // A miner enrolled for no zone names none, restricted Participant
    // or not: a zone named while its Participant was active would pass
    // the compliant-zone check at export once it is restricted.
    let anywhere = w.enrol("CF", "cf-miner", Role::Miner, None);
    assert_eq!(
        rejected(w.apply(&anywhere, body("CF", "Carnot"))),
        "zone_mismatch"
    );
    let botswana = w.enrol("BW", "bw-miner", Role::Miner, None);
    assert_eq!(
        rejected(w.apply(&botswana, body("BW", "Orapa"))),
        "zone_mismatch"
    );
    let orapa = w.enrol("BW", "bw-orapa", Role::Miner, Some("Orapa"));
    assert_eq!(
        rejected(w.apply(&orapa, body("BW", "Jwaneng"))),
        "zone_mismatch"
    );
    w.ok(&orapa, body("BW", " ORAPA "));
}

#[test]
fn split_conserves_mass_and_keeps_ancestry() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 10_000);
    let parts = c.w.split(&c.miner, p, &[3_333, 3_333, 3_334]);
    assert_eq!(parts.len(), 3);
    let total: u64 = parts.iter().map(|id| c.w.parcel(id).milli_carats).sum();
    assert_eq!(total, 10_000);
    let stones: u32 = parts.iter().map(|id| c.w.parcel(id).stones).sum();
    assert_eq!(stones, 100);
    let value: u64 = parts.iter().map(|id| c.w.parcel(id).value_cents).sum();
    assert_eq!(value, c.w.parcel(&p).value_cents);
    for id in &parts {
        assert_eq!(c.w.parcel(id).parents, vec![p]);
    }
    assert!(matches!(
        c.w.parcel(&p).status,
        ParcelStatus::Consumed { .. }
    ));
}

#[test]
fn split_rejects_mass_mismatch_and_double_spend() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 10_000);
    let body = |masses: &[u64]| Body::SplitParcel {
        parcel: p,
        outputs: masses
            .iter()
            .map(|m| SplitOutput {
                milli_carats: *m,
                hs_code: None,
            })
            .collect(),
    };
    let miner = c.miner;
    assert_eq!(
        rejected(c.w.apply(&miner, body(&[5_000, 4_999]))),
        "mass_mismatch"
    );
    assert_eq!(
        rejected(c.w.apply(&miner, body(&[5_000, 5_001]))),
        "mass_mismatch"
    );
    assert_eq!(
        rejected(c.w.apply(&miner, body(&[10_000]))),
        "too_few_parts"
    );
    assert_eq!(
        rejected(c.w.apply(&miner, body(&[10_000, 0]))),
        "not_positive"
    );
    assert_eq!(
        rejected(c.w.apply(&miner, body(&[u64::MAX, 10_001]))),
        "mass_mismatch"
    );
    c.w.ok(&miner, body(&[5_000, 5_000]));
    assert_eq!(
        rejected(c.w.apply(&miner, body(&[5_000, 5_000]))),
        "parcel_consumed"
    );
    let offer = Body::OfferTransfer {
        parcel: p,
        to: c.trader,
        price_cents: None,
    };
    assert_eq!(rejected(c.w.apply(&miner, offer)), "parcel_consumed");
}

#[test]
fn split_needs_a_stone_per_output_and_sorts_only_unsorted() {
    let mut c = chain();
    let mut body = World::register_body("BW", 3_000);
    if let Body::RegisterParcel { stones, .. } = &mut body {
        *stones = 2;
    }
    let p = c.w.ok(&c.miner.clone(), body).created[0];
    let miner = c.miner;
    let three = Body::SplitParcel {
        parcel: p,
        outputs: vec![
            SplitOutput {
                milli_carats: 1_000,
                hs_code: None
            };
            3
        ],
    };
    assert_eq!(rejected(c.w.apply(&miner, three)), "too_few_stones");
    let sorted = |a: HsCode, b: HsCode, parcel| Body::SplitParcel {
        parcel,
        outputs: vec![
            SplitOutput {
                milli_carats: 1_000,
                hs_code: Some(a),
            },
            SplitOutput {
                milli_carats: 2_000,
                hs_code: Some(b),
            },
        ],
    };
    let polished = "7102.39".parse().unwrap();
    assert_eq!(
        rejected(c.w.apply(&miner, sorted(HsCode::INDUSTRIAL, polished, p))),
        "hs_code_not_rough"
    );
    let parts =
        c.w.ok(
            &miner,
            sorted(HsCode::INDUSTRIAL, HsCode::NON_INDUSTRIAL, p),
        )
        .created;
    assert_eq!(c.w.parcel(&parts[0]).hs_code, HsCode::INDUSTRIAL);
    assert_eq!(c.w.parcel(&parts[1]).hs_code, HsCode::NON_INDUSTRIAL);
    let q = c.w.register(&miner, "BW", 3_000);
    let parts = c.w.split(&miner, q, &[1_000, 2_000]);
    let resplit = Body::SplitParcel {
        parcel: parts[0],
        outputs: vec![
            SplitOutput {
                milli_carats: 500,
                hs_code: Some(HsCode::NON_INDUSTRIAL),
            },
            SplitOutput {
                milli_carats: 500,
                hs_code: None,
            },
        ],
    };
    // parts[0] is unsorted, so it can be sorted; a sorted parcel cannot be re-sorted.
    let sorted_parts = c.w.ok(&miner, resplit).created;
    let back = Body::SplitParcel {
        parcel: sorted_parts[0],
        outputs: vec![
            SplitOutput {
                milli_carats: 250,
                hs_code: Some(HsCode::INDUSTRIAL),
            },
            SplitOutput {
                milli_carats: 250,
                hs_code: None,
            },
        ],
    };
    assert_eq!(rejected(c.w.apply(&miner, back)), "hs_reclassification");
}

#[test]
fn merge_of_several_origins_is_mixed_and_keeps_each_origins_carats() {
    let mut c = chain();
    let za_miner = c.w.enrol("ZA", "za-miner", Role::Miner, None);
    let za_exporter = c.w.enrol("ZA", "za-exporter", Role::Exporter, None);
    let bw_importer = c.w.enrol("BW", "bw-importer", Role::Importer, None);
    // A South African parcel is exported to Botswana and merged there.
    let za = c.w.register(&za_miner, "ZA", 4_000);
    c.w.hand_over(&za_miner, za, &za_exporter);
    let za_auth = c.w.authority("ZA");
    let expires = day_of(START_TIME) + 30;
    c.w.ok(
        &za_auth,
        Body::IssueCertificate {
            number: "ZA-0001".into(),
            exporter: za_exporter,
            importer: bw_importer,
            destination: code("BW"),
            parcels: vec![za],
            hs_codes: vec![HsCode::UNSORTED],
            expires_on: expires,
            value_cents: None,
        },
    );
    let bw_auth = c.w.authority("BW");
    c.w.ok(
        &bw_auth,
        Body::ReceiveCertificate {
            number: "ZA-0001".into(),
            milli_carats: 4_000,
            parcel_count: 1,
        },
    );
    c.w.hand_over(&bw_importer, za, &c.sorter);
    let bw = c.w.register(&c.miner, "BW", 6_000);
    c.w.hand_over(&c.miner, bw, &c.sorter);

    let sorter = c.sorter;
    let merged =
        c.w.ok(
            &sorter,
            Body::MergeParcels {
                parcels: vec![bw, za],
            },
        )
        .created[0];
    let m = c.w.parcel(&merged);
    assert!(m.is_mixed_origin());
    assert_eq!(m.milli_carats, 10_000);
    assert_eq!(m.parents, vec![bw, za]);
    let shares: Vec<(String, u64)> = m
        .origins
        .iter()
        .map(|o| (o.participant.to_string(), o.milli_carats))
        .collect();
    assert_eq!(shares, vec![("BW".into(), 6_000), ("ZA".into(), 4_000)]);

    // Splitting a mixed parcel shares each origin out exactly.
    let parts = c.w.split(&sorter, merged, &[2_500, 7_500]);
    let mut bw_total = 0;
    for id in &parts {
        let p = c.w.parcel(id);
        assert_eq!(
            p.origins.iter().map(|o| o.milli_carats).sum::<u64>(),
            p.milli_carats
        );
        bw_total += p
            .origins
            .iter()
            .filter(|o| o.participant == code("BW"))
            .map(|o| o.milli_carats)
            .sum::<u64>();
    }
    assert_eq!(bw_total, 6_000);

    // Exported, the mixed parcel's certificate lists both origins.
    c.w.hand_over(&sorter, parts[1], &c.exporter.clone());
    c.w.ok(&bw_auth, issue_body("BW-MIX", &c, vec![parts[1]], 30));
    let cert = c.w.state.certificate("BW-MIX").unwrap().unwrap();
    let origins: Vec<(&str, u64)> = cert
        .origins
        .iter()
        .map(|o| (o.participant.as_str(), o.milli_carats))
        .collect();
    assert_eq!(origins.len(), 2, "mixed origin: {origins:?}");
    assert_eq!(origins.iter().map(|o| o.1).sum::<u64>(), 7_500);
    assert_eq!(origins[0], ("BW", 4_500));
}

#[test]
fn merge_rejects_duplicates_strangers_and_mixed_hs_codes() {
    let mut c = chain();
    let miner = c.miner;
    let a = c.w.register(&miner, "BW", 1_000);
    let b = c.w.register(&miner, "BW", 2_000);
    assert_eq!(
        rejected(c.w.apply(&miner, Body::MergeParcels { parcels: vec![a] })),
        "too_few_parts"
    );
    assert_eq!(
        rejected(c.w.apply(
            &miner,
            Body::MergeParcels {
                parcels: vec![a, a]
            }
        )),
        "duplicate_parcel"
    );
    let other = c.w.register(&miner, "BW", 500);
    c.w.hand_over(&miner, other, &c.trader);
    assert_eq!(
        rejected(c.w.apply(
            &miner,
            Body::MergeParcels {
                parcels: vec![a, other]
            }
        )),
        "not_holder"
    );
    let mut gem = World::register_body("BW", 700);
    if let Body::RegisterParcel { hs_code, .. } = &mut gem {
        *hs_code = HsCode::NON_INDUSTRIAL;
    }
    let g = c.w.ok(&miner, gem).created[0];
    assert_eq!(
        rejected(c.w.apply(
            &miner,
            Body::MergeParcels {
                parcels: vec![a, g]
            }
        )),
        "hs_code_mismatch"
    );
    let merged =
        c.w.ok(
            &miner,
            Body::MergeParcels {
                parcels: vec![a, b],
            },
        )
        .created[0];
    assert_eq!(c.w.parcel(&merged).milli_carats, 3_000);
    assert_eq!(
        rejected(c.w.apply(
            &miner,
            Body::MergeParcels {
                parcels: vec![a, b]
            }
        )),
        "parcel_consumed"
    );
}

proptest! {
    /// Parts add up to the whole exactly and each is within one of its
    /// exact proportional share.
    #[test]
    fn parts_add_up_exactly(total in 0u64..10_000_000_000, weights in prop::collection::vec(0u64..1_000_000, 1..20)) {
        let parts = apportion(total, &weights);
        prop_assert_eq!(parts.len(), weights.len());
        prop_assert_eq!(parts.iter().sum::<u64>(), total);
        let weight_sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
        for (part, w) in parts.iter().zip(&weights) {
            let exact = u128::from(total) * u128::from(*w);
            if let Some(floor) = exact.checked_div(weight_sum) {
                prop_assert!(u128::from(*part) == floor || u128::from(*part) == floor + 1);
            }
        }
    }

    /// Splitting a mixed parcel gives every output shares that add up to
    /// its mass, and every origin's shares add up to what it had.
    #[test]
    fn split_origins_keep_both_sums(
        origin_masses in prop::collection::vec(1u64..1_000_000, 1..6),
        cuts in prop::collection::vec(1u64..1_000, 2..8),
    ) {
        let origins: Vec<OriginShare> = origin_masses
            .iter()
            .enumerate()
            .map(|(i, m)| OriginShare { participant: ParticipantCode([b'A', b'A' + i as u8]), milli_carats: *m })
            .collect();
        let total: u64 = origin_masses.iter().sum();
        prop_assume!(total >= cuts.len() as u64);
        let mut masses = apportion(total - cuts.len() as u64, &cuts);
        masses.iter_mut().for_each(|m| *m += 1);
        let shares = super::super::parcel::split_origins(&origins, &masses);
        for (output, mass) in shares.iter().zip(&masses) {
            prop_assert_eq!(output.iter().map(|o| o.milli_carats).sum::<u64>(), *mass);
        }
        for origin in &origins {
            let given: u64 = shares.iter().flatten().filter(|o| o.participant == origin.participant).map(|o| o.milli_carats).sum();
            prop_assert_eq!(given, origin.milli_carats);
        }
    }
}
