//! Kimberley Process certificates (`rules/certificate.rs`): issue with
//! every Annex I field, receipt or discrepancy, expiry, and restrictions
//! checked at export.

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
