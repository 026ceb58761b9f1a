//! Each rule of `docs/domain.md`, accepting the right case and rejecting the
//! wrong ones. `World::apply_signed` also checks that every rejection left
//! the state untouched.

use kp_crypto::PublicKey;

use crate::model::{
    CertificateStatus, HsCode, ParcelId, ParcelStatus, ParticipantStatus, Role, TransferStatus,
};
use crate::rejection::Rejection;
use crate::state::StateRead;
use crate::testkit::{code, World, START_TIME};
use crate::tx::{Body, SplitOutput};
use crate::units::{day_of, SECONDS_PER_DAY};

fn rejected<T>(result: Result<T, Rejection>) -> &'static str {
    match result {
        Ok(_) => panic!("expected a rejection, the transaction was accepted"),
        Err(r) => r.code(),
    }
}

/// Botswana: a miner, a trader, a sorter and an exporter; EU: an importer.
struct Chain {
    w: World,
    miner: PublicKey,
    trader: PublicKey,
    sorter: PublicKey,
    exporter: PublicKey,
    importer: PublicKey,
}

fn chain() -> Chain {
    let mut w = World::new();
    let miner = w.enrol("BW", "debswana", Role::Miner, None);
    let trader = w.enrol("BW", "okavango", Role::Trader, None);
    let sorter = w.enrol("BW", "dtc", Role::Sorter, None);
    let exporter = w.enrol("BW", "bw-export", Role::Exporter, None);
    let importer = w.enrol("EU", "antwerp", Role::Importer, None);
    Chain {
        w,
        miner,
        trader,
        sorter,
        exporter,
        importer,
    }
}

fn issue_body(number: &str, c: &Chain, parcels: Vec<ParcelId>, days: u64) -> Body {
    Body::IssueCertificate {
        number: number.to_owned(),
        exporter: c.exporter,
        importer: c.importer,
        destination: code("EU"),
        parcels,
        hs_codes: vec![HsCode::UNSORTED],
        expires_on: day_of(START_TIME + days * SECONDS_PER_DAY),
        value_cents: None,
    }
}

/// A parcel registered in Botswana and handed to the exporter.
fn exportable(c: &mut Chain, milli_carats: u64) -> ParcelId {
    let p = c.w.register(&c.miner, "BW", milli_carats);
    c.w.hand_over(&c.miner, p, &c.exporter);
    p
}

mod envelope {
    use super::*;

    #[test]
    fn next_nonce_is_accepted_replay_and_gap_are_not() {
        let mut c = chain();
        let body = World::register_body("BW", 1_000);
        let tx = c.w.sign(&c.miner, body.clone());
        assert!(c.w.apply_signed(&tx).is_ok());
        assert_eq!(rejected(c.w.apply_signed(&tx)), "replay");
        let gap = c.w.sign_with_nonce(&c.miner, 5, body);
        assert_eq!(rejected(c.w.apply_signed(&gap)), "nonce_gap");
    }

    #[test]
    fn unknown_signer_and_wrong_chain() {
        let mut w = World::new();
        let stranger = w.key("stranger");
        assert_eq!(
            rejected(w.apply(&stranger, World::register_body("BW", 1))),
            "unknown_signer"
        );

        // Signed, well, for a chain of the same name that grew from
        // another genesis.
        let mut c = chain();
        let mut other = crate::testkit::test_genesis();
        other.genesis_time += 1;
        let ours = c.w.genesis.hash();
        assert_eq!(other.chain_id, c.w.genesis.chain_id);
        let tx = crate::tx::TxPayload {
            signer: c.miner,
            nonce: 1,
            genesis: other.hash(),
            body: World::register_body("BW", 1_000),
        }
        .sign(&crate::testkit::key_named("debswana"));
        let tx = crate::tx::DecodedTx::decode(tx.to_bytes()).unwrap();
        let refusal = c.w.apply_signed(&tx).unwrap_err();
        assert_eq!(refusal.code(), "wrong_chain");
        let message = refusal.to_string();
        assert!(
            message.contains(&other.hash().to_string()) && message.contains(&ours.to_string()),
            "{message}"
        );
    }

    #[test]
    fn bad_signatures_never_enter_a_block() {
        let mut c = chain();
        let good = c.w.sign(&c.miner, World::register_body("BW", 1_000));
        let mut forged = c.w.sign(&c.trader, World::register_body("BW", 1_000));
        forged.tx.signature.0[0] ^= 1;
        let (block, rejected) = c.w.commit_block(vec![good.clone(), forged.clone()]);
        assert_eq!(block.txs.len(), 1);
        assert_eq!(block.txs[0].id, good.id);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].1.code(), "bad_signature");
    }
}

mod members {
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
}

mod registration {
    use super::*;

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
}

mod transfers {
    use super::*;

    #[test]
    fn holder_offers_recipient_accepts() {
        let mut c = chain();
        let p = c.w.register(&c.miner, "BW", 1_000);
        let t = c.w.offer(&c.miner, p, &c.trader);
        assert_eq!(c.w.parcel(&p).status, ParcelStatus::Offered { transfer: t });
        assert_eq!(
            rejected(c.w.apply(&c.sorter.clone(), Body::AcceptTransfer { transfer: t })),
            "not_recipient"
        );
        c.w.ok(&c.trader.clone(), Body::AcceptTransfer { transfer: t });
        assert_eq!(c.w.parcel(&p).holder, c.trader);
        assert_eq!(
            c.w.state.transfer(&t).unwrap().unwrap().status,
            TransferStatus::Accepted
        );
        assert_eq!(
            rejected(c.w.apply(&c.trader.clone(), Body::AcceptTransfer { transfer: t })),
            "transfer_closed"
        );
    }

    #[test]
    fn only_the_holder_offers_and_only_at_home() {
        let mut c = chain();
        let p = c.w.register(&c.miner, "BW", 1_000);
        let steal = Body::OfferTransfer {
            parcel: p,
            to: c.sorter,
            price_cents: None,
        };
        assert_eq!(rejected(c.w.apply(&c.trader.clone(), steal)), "not_holder");
        let abroad = Body::OfferTransfer {
            parcel: p,
            to: c.importer,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.miner.clone(), abroad)),
            "recipient_not_domestic"
        );
        let selfish = Body::OfferTransfer {
            parcel: p,
            to: c.miner,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.miner.clone(), selfish)),
            "self_transfer"
        );
        let missing = Body::OfferTransfer {
            parcel: kp_crypto::Hash32([9; 32]),
            to: c.trader,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.miner.clone(), missing)),
            "unknown_parcel"
        );
    }

    #[test]
    fn an_offer_can_be_cancelled_by_the_offerer_only() {
        let mut c = chain();
        let p = c.w.register(&c.miner, "BW", 1_000);
        let t = c.w.offer(&c.miner, p, &c.trader);
        // Under an open offer the parcel cannot move otherwise.
        let again = Body::OfferTransfer {
            parcel: p,
            to: c.sorter,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.miner.clone(), again)),
            "parcel_offered"
        );
        assert_eq!(
            rejected(c.w.apply(&c.trader.clone(), Body::CancelTransfer { transfer: t })),
            "not_offerer"
        );
        c.w.ok(&c.miner.clone(), Body::CancelTransfer { transfer: t });
        assert_eq!(c.w.parcel(&p).status, ParcelStatus::Live);
        assert_eq!(
            rejected(c.w.apply(&c.trader.clone(), Body::AcceptTransfer { transfer: t })),
            "transfer_closed"
        );
        let unknown = Body::AcceptTransfer {
            transfer: kp_crypto::Hash32([3; 32]),
        };
        assert_eq!(
            rejected(c.w.apply(&c.trader.clone(), unknown)),
            "unknown_transfer"
        );
    }

    #[test]
    fn a_flagged_parcel_cannot_move_or_be_accepted() {
        let mut c = chain();
        let p = c.w.register(&c.miner, "BW", 1_000);
        let t = c.w.offer(&c.miner, p, &c.trader);
        let bw = c.w.authority("BW");
        c.w.ok(
            &bw,
            Body::FlagParcel {
                parcel: p,
                reason: "origin under review".into(),
            },
        );
        assert_eq!(
            rejected(c.w.apply(&c.trader.clone(), Body::AcceptTransfer { transfer: t })),
            "parcel_flagged"
        );
        c.w.ok(&c.miner.clone(), Body::CancelTransfer { transfer: t });
        let offer = Body::OfferTransfer {
            parcel: p,
            to: c.trader,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.miner.clone(), offer.clone())),
            "parcel_flagged"
        );
        c.w.ok(&bw, Body::ClearFlag { parcel: p });
        assert!(c.w.apply(&c.miner.clone(), offer).is_ok());
    }
}

mod split_and_merge {
    use super::*;

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
}

mod certificates {
    use super::*;

    #[test]
    fn issue_computes_every_annex_i_field_and_puts_parcels_in_transit() {
        let mut c = chain();
        let p1 = exportable(&mut c, 1_500);
        let p2 = exportable(&mut c, 2_500);
        let bw = c.w.authority("BW");
        c.w.ok(&bw, issue_body("BW-2026-0001", &c, vec![p1, p2], 30));
        let cert = c.w.state.certificate("BW-2026-0001").unwrap().unwrap();
        assert_eq!(cert.issuer, code("BW"));
        assert_eq!(cert.destination, code("EU"));
        assert_eq!(cert.milli_carats, 4_000);
        assert_eq!(cert.value_cents, 4_000 * 14);
        assert_eq!(cert.parcels.len(), 2);
        assert_eq!(cert.hs_codes, vec![HsCode::UNSORTED]);
        assert_eq!(cert.origins.len(), 1);
        assert_eq!(cert.issued_on, day_of(START_TIME));
        assert_eq!(cert.status, CertificateStatus::InTransit);
        for p in [p1, p2] {
            assert_eq!(
                c.w.parcel(&p).status,
                ParcelStatus::InTransit {
                    certificate: "BW-2026-0001".into()
                }
            );
        }
        // In transit, the parcels cannot move.
        let offer = Body::OfferTransfer {
            parcel: p1,
            to: c.trader,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.exporter.clone(), offer)),
            "parcel_in_transit"
        );
    }

    #[test]
    fn a_declared_value_is_the_certificates_and_its_parcels_on_receipt() {
        let mut c = chain();
        // Recorded at US$ 140/ct: US$ 140 and US$ 420.
        let (p1, p2) = (exportable(&mut c, 1_000), exportable(&mut c, 3_000));
        let (bw, eu) = (c.w.authority("BW"), c.w.authority("EU"));
        let declaring = |c: &Chain, number: &str, parcels, cents| {
            let mut body = issue_body(number, c, parcels, 30);
            if let Body::IssueCertificate { value_cents, .. } = &mut body {
                *value_cents = cents;
            }
            body
        };
        let receive = |number: &str, milli_carats| Body::ReceiveCertificate {
            number: number.into(),
            milli_carats,
            parcel_count: 1,
        };
        assert_eq!(
            rejected(c.w.apply(&bw, declaring(&c, "BW-V", vec![p1, p2], Some(0)))),
            "not_positive"
        );
        let too_much = Some(crate::rules::parcel::VALUE_CENTS_MAX + 1);
        assert_eq!(
            rejected(c.w.apply(&bw, declaring(&c, "BW-V", vec![p1, p2], too_much))),
            "too_large"
        );
        c.w.ok(&bw, declaring(&c, "BW-V", vec![p1, p2], Some(100_001)));
        let cert = c.w.state.certificate("BW-V").unwrap().unwrap();
        assert_eq!(cert.value_cents, 100_001);
        // In transit the parcels keep what was recorded; received, they
        // share the declared value as their recorded values did (1:3).
        assert_eq!(c.w.parcel(&p1).value_cents, 14_000);
        c.w.ok(
            &eu,
            Body::ReceiveCertificate {
                number: "BW-V".into(),
                milli_carats: 4_000,
                parcel_count: 2,
            },
        );
        let values = [p1, p2].map(|p| c.w.parcel(&p).value_cents);
        assert_eq!(values, [25_000, 75_001]);

        // Undeclared, the parcels' recorded value goes through unchanged.
        let p3 = exportable(&mut c, 1_000);
        c.w.ok(&bw, declaring(&c, "BW-U", vec![p3], None));
        assert_eq!(
            c.w.state.certificate("BW-U").unwrap().unwrap().value_cents,
            14_000
        );
        c.w.ok(&eu, receive("BW-U", 1_000));
        assert_eq!(c.w.parcel(&p3).value_cents, 14_000);
        // A discrepancy freezes the parcels at their recorded value.
        let p4 = exportable(&mut c, 1_000);
        c.w.ok(&bw, declaring(&c, "BW-D", vec![p4], Some(1)));
        c.w.ok(&eu, receive("BW-D", 999));
        assert_eq!(c.w.parcel(&p4).value_cents, 14_000);
    }

    #[test]
    fn only_the_issuers_authority_with_its_prefix_and_never_twice() {
        let mut c = chain();
        let p = exportable(&mut c, 1_000);
        let q = exportable(&mut c, 1_000);
        let bw = c.w.authority("BW");
        let za = c.w.authority("ZA");
        assert_eq!(
            rejected(c.w.apply(&c.exporter.clone(), issue_body("BW-1", &c, vec![p], 30))),
            "not_authority"
        );
        assert_eq!(
            rejected(c.w.apply(&za, issue_body("ZA-1", &c, vec![p], 30))),
            "other_participants_member"
        );
        assert_eq!(
            rejected(c.w.apply(&bw, issue_body("ZA-1", &c, vec![p], 30))),
            "certificate_number_prefix"
        );
        assert_eq!(
            rejected(c.w.apply(&bw, issue_body("BW", &c, vec![p], 30))),
            "certificate_number_prefix"
        );
        c.w.ok(&bw, issue_body("BW-1", &c, vec![p], 30));
        assert_eq!(
            rejected(c.w.apply(&bw, issue_body("BW-1", &c, vec![q], 30))),
            "certificate_reused"
        );
    }

    #[test]
    fn exporter_importer_destination_and_expiry_are_checked() {
        let mut c = chain();
        let p = exportable(&mut c, 1_000);
        let bw = c.w.authority("BW");
        let mut body = issue_body("BW-2", &c, vec![p], 30);
        let with = |b: &Body, f: &dyn Fn(&mut Body)| {
            let mut b = b.clone();
            f(&mut b);
            b
        };
        let trader = c.trader;
        let sorter_abroad = c.w.enrol("EU", "eu-sorter", Role::Sorter, None);
        let ve_importer = c.w.enrol("VE", "ve-importer", Role::Importer, None);
        let ve_target = ve_importer;
        let za_importer = c.w.enrol("ZA", "za-importer", Role::Importer, None);
        let cases: Vec<(Body, &str)> = vec![
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { importer, .. } = b {
                        *importer = za_importer
                    }
                }),
                "other_participants_member",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { exporter, .. } = b {
                        *exporter = trader
                    }
                }),
                "wrong_role",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { importer, .. } = b {
                        *importer = sorter_abroad
                    }
                }),
                "wrong_role",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { destination, .. } = b {
                        *destination = code("BW")
                    }
                }),
                "destination_is_issuer",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { destination, .. } = b {
                        *destination = code("XK")
                    }
                }),
                "unknown_participant",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate {
                        destination,
                        importer,
                        ..
                    } = b
                    {
                        *destination = code("VE");
                        *importer = ve_target;
                    }
                }),
                "participant_suspended",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { expires_on, .. } = b {
                        *expires_on = day_of(START_TIME)
                    }
                }),
                "expiry_not_after_issue",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { hs_codes, .. } = b {
                        *hs_codes = vec![HsCode::INDUSTRIAL]
                    }
                }),
                "hs_declaration_mismatch",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { hs_codes, .. } = b {
                        *hs_codes = vec!["7104".parse().unwrap()]
                    }
                }),
                "hs_code_not_rough",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { parcels, .. } = b {
                        parcels.push(parcels[0])
                    }
                }),
                "duplicate_parcel",
            ),
            (
                with(&body, &|b| {
                    if let Body::IssueCertificate { parcels, .. } = b {
                        parcels.clear()
                    }
                }),
                "not_positive",
            ),
        ];
        for (case, expected) in cases {
            assert_eq!(rejected(c.w.apply(&bw, case)), expected);
        }
        // The exporter must hold every parcel.
        let elsewhere = c.w.register(&c.miner, "BW", 1_000);
        if let Body::IssueCertificate { parcels, .. } = &mut body {
            parcels.push(elsewhere);
        }
        assert_eq!(rejected(c.w.apply(&bw, body)), "not_holder");
        // A suspended issuer certifies nothing.
        let ve = c.w.authority("VE");
        let ve_body = Body::IssueCertificate {
            number: "VE-1".into(),
            exporter: c.exporter,
            importer: c.importer,
            destination: code("EU"),
            parcels: vec![p],
            hs_codes: vec![HsCode::UNSORTED],
            expires_on: day_of(START_TIME) + 10,
            value_cents: None,
        };
        assert_eq!(rejected(c.w.apply(&ve, ve_body)), "participant_suspended");
    }

    #[test]
    fn receipt_with_matching_figures_moves_parcels_to_the_importer() {
        let mut c = chain();
        let p = exportable(&mut c, 2_000);
        let bw = c.w.authority("BW");
        let eu = c.w.authority("EU");
        c.w.ok(&bw, issue_body("BW-3", &c, vec![p], 30));
        let receive = Body::ReceiveCertificate {
            number: "BW-3".into(),
            milli_carats: 2_000,
            parcel_count: 1,
        };
        assert_eq!(
            rejected(c.w.apply(&bw, receive.clone())),
            "not_destination_authority"
        );
        assert_eq!(
            rejected(c.w.apply(&c.importer.clone(), receive.clone())),
            "not_authority"
        );
        c.w.ok(&eu, receive.clone());
        let parcel = c.w.parcel(&p);
        assert_eq!(
            (parcel.holder, parcel.status),
            (c.importer, ParcelStatus::Live)
        );
        let cert = c.w.state.certificate("BW-3").unwrap().unwrap();
        assert_eq!(cert.status, CertificateStatus::Received);
        assert!(cert.receipt.unwrap().matches);
        assert_eq!(rejected(c.w.apply(&eu, receive)), "already_received");
        let unknown = Body::ReceiveCertificate {
            number: "BW-404".into(),
            milli_carats: 1,
            parcel_count: 1,
        };
        assert_eq!(rejected(c.w.apply(&eu, unknown)), "unknown_certificate");
    }

    #[test]
    fn receipt_with_different_figures_is_a_discrepancy_and_freezes_parcels() {
        let mut c = chain();
        let p = exportable(&mut c, 2_000);
        let bw = c.w.authority("BW");
        let eu = c.w.authority("EU");
        c.w.ok(&bw, issue_body("BW-4", &c, vec![p], 30));
        c.w.ok(
            &eu,
            Body::ReceiveCertificate {
                number: "BW-4".into(),
                milli_carats: 1_900,
                parcel_count: 1,
            },
        );
        let cert = c.w.state.certificate("BW-4").unwrap().unwrap();
        assert_eq!(cert.status, CertificateStatus::Discrepancy);
        assert!(!cert.receipt.unwrap().matches);
        let parcel = c.w.parcel(&p);
        assert_eq!(
            parcel.status,
            ParcelStatus::Frozen {
                certificate: "BW-4".into()
            }
        );
        assert_eq!(parcel.holder, c.exporter);
        let offer = Body::OfferTransfer {
            parcel: p,
            to: c.trader,
            price_cents: None,
        };
        assert_eq!(
            rejected(c.w.apply(&c.exporter.clone(), offer)),
            "parcel_frozen"
        );
        let again = Body::ReceiveCertificate {
            number: "BW-4".into(),
            milli_carats: 2_000,
            parcel_count: 1,
        };
        assert_eq!(rejected(c.w.apply(&eu, again)), "already_received");
    }

    #[test]
    fn no_receipt_after_expiry() {
        let mut c = chain();
        let p = exportable(&mut c, 2_000);
        let bw = c.w.authority("BW");
        let eu = c.w.authority("EU");
        c.w.ok(&bw, issue_body("BW-5", &c, vec![p], 10));
        c.w.time = START_TIME + 11 * SECONDS_PER_DAY;
        let receive = Body::ReceiveCertificate {
            number: "BW-5".into(),
            milli_carats: 2_000,
            parcel_count: 1,
        };
        assert_eq!(
            rejected(c.w.apply(&eu, receive.clone())),
            "certificate_expired"
        );
        // On the day of expiry itself it is still valid.
        c.w.time = START_TIME + 10 * SECONDS_PER_DAY;
        assert!(c.w.apply(&eu, receive).is_ok());
    }

    #[test]
    fn a_restriction_after_registration_is_enforced_at_export() {
        let mut c = chain();
        let plain = exportable(&mut c, 1_000);
        let jwaneng = c.w.enrol("BW", "jwaneng", Role::Miner, Some("Jwaneng"));
        let zoned = c.w.register(&jwaneng, "BW", 1_000);
        assert_eq!(c.w.parcel(&zoned).zones, ["Jwaneng"]);
        c.w.hand_over(&jwaneng, zoned, &c.exporter.clone());
        // Botswana is restricted to one compliant zone (as governance may
        // decide once its parcels are registered).
        let mut bw = c.w.state.participant(code("BW")).unwrap().unwrap();
        bw.status = ParticipantStatus::Restricted {
            zones: vec!["Orapa".into()],
        };
        let mut delta = crate::state::StateDelta::default();
        delta.participants.insert(bw.code, bw);
        c.w.state.apply(delta);

        let authority = c.w.authority("BW");
        let without_zone = issue_body("BW-10", &c, vec![plain], 30);
        assert_eq!(
            rejected(c.w.apply(&authority, without_zone)),
            "zone_required"
        );
        let outside = issue_body("BW-11", &c, vec![zoned], 30);
        assert_eq!(rejected(c.w.apply(&authority, outside)), "zone_not_allowed");
    }
}

mod compliant_zones;
mod governance;
mod limits;
mod weak_keys;

mod flags {
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
}

mod apportioning {
    use proptest::prelude::*;

    use super::super::apportion;
    use crate::model::{OriginShare, ParticipantCode};

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
}

mod storage_faults {
    use std::cell::Cell;

    use kp_crypto::PublicKey;

    use crate::block::{apply_block, build_block, BlockError, NONE_CHECKED};
    use crate::commitment::{ParcelCommitment, ParcelTree};
    use crate::mem_state::MemState;
    use crate::model::{
        Certificate, Member, Parcel, ParcelId, Participant, ParticipantCode, Proposal, ProposalId,
        Role, Transfer, TransferId,
    };
    use crate::state::{Read, StateRead, StorageFault};
    use crate::testkit::{code, test_chain, test_proposer, World};

    /// A state that fails on its `fail_at`-th read: a disk error at any
    /// moment of applying a block.
    struct Faulty<'a> {
        inner: &'a MemState,
        reads: Cell<u64>,
        fail_at: u64,
    }

    impl Faulty<'_> {
        fn tick(&self) -> Result<(), StorageFault> {
            let n = self.reads.get() + 1;
            self.reads.set(n);
            if n == self.fail_at {
                Err(StorageFault(format!("injected fault at read {n}")))
            } else {
                Ok(())
            }
        }
    }

    impl ParcelCommitment for Faulty<'_> {
        fn parcels_in_bucket(&self, bucket: u16) -> Result<Vec<(ParcelId, Parcel)>, StorageFault> {
            self.tick()?;
            self.inner.parcels_in_bucket(bucket)
        }
        fn parcel_tree(&self) -> &ParcelTree {
            self.inner.parcel_tree()
        }
    }

    impl StateRead for Faulty<'_> {
        fn participant(&self, code: ParticipantCode) -> Read<Participant> {
            self.tick()?;
            self.inner.participant(code)
        }
        fn participants(&self) -> Result<Vec<Participant>, StorageFault> {
            self.tick()?;
            self.inner.participants()
        }
        fn participant_by_authority(&self, key: &PublicKey) -> Read<ParticipantCode> {
            self.tick()?;
            self.inner.participant_by_authority(key)
        }
        fn member(&self, key: &PublicKey) -> Read<Member> {
            self.tick()?;
            self.inner.member(key)
        }
        fn nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
            self.tick()?;
            self.inner.nonce(signer)
        }
        fn parcel(&self, id: &ParcelId) -> Read<Parcel> {
            self.tick()?;
            self.inner.parcel(id)
        }
        fn transfer(&self, id: &TransferId) -> Read<Transfer> {
            self.tick()?;
            self.inner.transfer(id)
        }
        fn certificate(&self, number: &str) -> Read<Certificate> {
            self.tick()?;
            self.inner.certificate(number)
        }
        fn proposal(&self, id: &ProposalId) -> Read<Proposal> {
            self.tick()?;
            self.inner.proposal(id)
        }
    }

    /// Whatever read fails, applying the block fails with a storage error
    /// (never a verdict on a transaction, never a different state), and
    /// building one fails too rather than leaving transactions out.
    #[test]
    fn a_fault_at_any_read_fails_the_whole_block() {
        let mut w = World::new();
        let miner = w.enrol("BW", "miner", Role::Miner, None);
        let trader = w.enrol("BW", "trader", Role::Trader, None);
        let p = w.register(&miner, "BW", 9_000);
        let txs = vec![
            w.sign(
                &miner,
                crate::tx::Body::OfferTransfer {
                    parcel: p,
                    to: trader,
                    price_cents: None,
                },
            ),
            w.sign_with_nonce(&miner, 3, World::register_body("BW", 1_000)),
            // Governance reads the whole Participant set.
            w.sign(
                &w.authority("BW"),
                crate::tx::Body::ProposeParticipantChange {
                    change: crate::model::ParticipantChange::Reinstate { code: code("VE") },
                },
            ),
        ];
        let proposer = test_proposer();
        let clean = build_block(
            &w.state,
            &w.tip,
            &test_chain(),
            w.time,
            proposer,
            txs.clone(),
            NONE_CHECKED,
        )
        .unwrap();
        assert!(clean.rejected.is_empty());
        let block = clean.applied.block.clone();

        let counting = Faulty {
            inner: &w.state,
            reads: Cell::new(0),
            fail_at: 0,
        };
        apply_block(
            &counting,
            &w.tip,
            &test_chain(),
            block.clone(),
            NONE_CHECKED,
        )
        .unwrap();
        let total_reads = counting.reads.get();
        assert!(
            total_reads > 5,
            "the block reads the state {total_reads} times"
        );

        for fail_at in 1..=total_reads {
            let faulty = Faulty {
                inner: &w.state,
                reads: Cell::new(0),
                fail_at,
            };
            match apply_block(&faulty, &w.tip, &test_chain(), block.clone(), NONE_CHECKED) {
                Err(BlockError::Storage(_)) => {}
                other => panic!("fault at read {fail_at}: expected a storage error, got {other:?}"),
            }
            let faulty = Faulty {
                inner: &w.state,
                reads: Cell::new(0),
                fail_at,
            };
            assert!(
                build_block(
                    &faulty,
                    &w.tip,
                    &test_chain(),
                    w.time,
                    proposer,
                    txs.clone(),
                    NONE_CHECKED
                )
                .is_err(),
                "fault at read {fail_at}: building must fail, not drop transactions"
            );
        }
    }
}

mod header_checks {
    use crate::block::{apply_block, build_block, validators_hash, BlockError, NONE_CHECKED};
    use crate::model::Role;
    use crate::rules::validator_set;
    use crate::testkit::{test_chain, test_proposer, World};

    #[test]
    fn a_header_counts_its_transactions_commits_to_the_parcels_and_names_the_validator_set() {
        let mut w = World::new();
        let miner = w.enrol("BW", "Debswana", Role::Miner, None);
        let txs = vec![w.sign(&miner, World::register_body("BW", 1_000))];
        let built = build_block(
            &w.state,
            &w.tip,
            &test_chain(),
            w.time,
            test_proposer(),
            txs,
            NONE_CHECKED,
        )
        .expect("in memory");
        let block = built.applied.block;
        assert_eq!(block.header.tx_count, 1);
        let in_force = validator_set(&w.state).expect("in memory");
        assert!(!in_force.is_empty());
        assert_eq!(block.header.validators_hash, validators_hash(&in_force));
        apply_block(&w.state, &w.tip, &test_chain(), block.clone(), NONE_CHECKED)
            .expect("the block as built applies");

        let mut miscounted = block.clone();
        miscounted.header.tx_count = 2;
        assert!(matches!(
            apply_block(&w.state, &w.tip, &test_chain(), miscounted, NONE_CHECKED),
            Err(BlockError::TxCount {
                claimed: 2,
                held: 1
            })
        ));

        let mut misrooted = block.clone();
        misrooted.header.parcels_root.0[0] ^= 1;
        assert!(matches!(
            apply_block(&w.state, &w.tip, &test_chain(), misrooted, NONE_CHECKED),
            Err(BlockError::ParcelsRoot { .. })
        ));

        // A set without its last validator: what a block would claim if a
        // suspension had been left out of what a verifier was given.
        let mut other_set = block.clone();
        other_set.header.validators_hash = validators_hash(&in_force[1..]);
        assert!(matches!(
            apply_block(&w.state, &w.tip, &test_chain(), other_set, NONE_CHECKED),
            Err(BlockError::ValidatorsHash { .. })
        ));
        let mut other_next = block;
        other_next.header.next_validators_hash = validators_hash(&in_force[1..]);
        assert!(matches!(
            apply_block(&w.state, &w.tip, &test_chain(), other_next, NONE_CHECKED),
            Err(BlockError::NextValidatorsHash { .. })
        ));
    }
}
