//! The anomaly checks against committed blocks at chosen times: each finds
//! the case planted for it, and a clean scenario finds nothing.

use super::*;
use kp_ledger::anomalies::{AnomalyKind, Finding};
use kp_wire::anomalies::{AnomalyQuery, AnomalyQueryError};

/// Two weeks into the first quarter of 2026 (2026-01-15).
const EARLY_Q1: u64 = kp_ledger::testkit::START_TIME + 14 * 86_400;

fn issue(
    number: &str,
    exporter: PublicKey,
    importer: PublicKey,
    parcels: Vec<ParcelId>,
    expires_on: u32,
) -> Body {
    Body::IssueCertificate {
        number: number.into(),
        exporter,
        importer,
        destination: "EU".parse().expect("code"),
        parcels,
        hs_codes: vec![HsCode::UNSORTED],
        expires_on,
        value_cents: None,
    }
}

/// BW mines parcels of 1 ct worth `values_cents` and hands them to its
/// exporter, all at `time`; the parcel ids, and the keys of BW's authority,
/// exporter and the EU's authority and importer.
struct Trade {
    chain: CertifiedChain,
    parcels: Vec<ParcelId>,
    bw: PublicKey,
    eu: PublicKey,
    exporter: PublicKey,
    importer: PublicKey,
}

fn bw_trade(dir: &Path, time: u64, values_cents: &[u64]) -> Trade {
    let mut chain = CertifiedChain::open(&dir.join("ledger.redb"));
    let w = &mut chain;
    let (bw, eu) = (w.authority("BW"), w.authority("EU"));
    let (miner, exporter, importer) = (
        w.key("bw miner"),
        w.key("bw exporter"),
        w.key("eu importer"),
    );
    block_at(
        &mut chain,
        time,
        vec![
            (bw, enrol(miner, Role::Miner, "BW miner")),
            (bw, enrol(exporter, Role::Exporter, "BW exporter")),
            (eu, enrol(importer, Role::Importer, "EU importer")),
        ],
    );
    let registered = block_at(
        &mut chain,
        time,
        values_cents
            .iter()
            .map(|v| (miner, parcel_of("BW", 1_000, *v, HsCode::UNSORTED)))
            .collect(),
    );
    let parcels: Vec<ParcelId> = registered.iter().map(|c| c[0]).collect();
    let offers = block_at(
        &mut chain,
        time,
        parcels
            .iter()
            .map(|p| (miner, offer(*p, exporter)))
            .collect(),
    );
    block_at(
        &mut chain,
        time,
        offers.iter().map(|o| (exporter, accept(o[0]))).collect(),
    );
    Trade {
        chain,
        parcels,
        bw,
        eu,
        exporter,
        importer,
    }
}

fn findings(chain: &CertifiedChain, query: &AnomalyQuery) -> Vec<Finding> {
    chain
        .store
        .snapshot()
        .expect("snapshot")
        .anomalies(query)
        .expect("anomalies")
        .findings
}

fn everyone() -> AnomalyQuery {
    AnomalyQuery::parse(None, None, None, None, None).expect("defaults")
}

#[test]
fn a_clean_trade_has_no_anomalies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = bw_trade(dir.path(), EARLY_Q1, &[10_000, 10_000]);
    let expires = kp_ledger::units::day_of(EARLY_Q1) + 30;
    block_at(
        &mut t.chain,
        EARLY_Q1,
        vec![(
            t.bw,
            issue("BW-001", t.exporter, t.importer, t.parcels.clone(), expires),
        )],
    );
    block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        vec![(t.eu, receive("BW-001", 2_000, 2))],
    );
    // Still the first quarter and before any expiry: nothing to compare.
    block_at(&mut t.chain, EARLY_Q1 + 20 * 86_400, vec![]);
    assert_eq!(findings(&t.chain, &everyone()), vec![]);
}

#[test]
fn each_check_finds_its_planted_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    // E is declared at US$ 10/ct where BW's average is US$ 85/ct.
    let mut t = bw_trade(
        dir.path(),
        EARLY_Q1,
        &[10_000, 10_000, 10_000, 10_000, 1_000, 10_000],
    );
    let [a, b, c, d, e, f] = [
        t.parcels[0],
        t.parcels[1],
        t.parcels[2],
        t.parcels[3],
        t.parcels[4],
        t.parcels[5],
    ];
    let day = kp_ledger::units::day_of(EARLY_Q1);
    block_at(
        &mut t.chain,
        EARLY_Q1,
        vec![
            // Never received: past expiry once the chain passes day + 10.
            (
                t.bw,
                issue("BW-001", t.exporter, t.importer, vec![a], day + 10),
            ),
            (
                t.bw,
                issue("BW-002", t.exporter, t.importer, vec![b], day + 30),
            ),
            (
                t.bw,
                issue("BW-003", t.exporter, t.importer, vec![c], day + 30),
            ),
            (
                t.bw,
                issue("BW-004", t.exporter, t.importer, vec![e], day + 30),
            ),
            (
                t.bw,
                Body::FlagParcel {
                    parcel: d,
                    reason: "origin in doubt".into(),
                },
            ),
        ],
    );
    block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        vec![
            // 0.1 ct short.
            (t.eu, receive("BW-002", 900, 1)),
            (t.eu, receive("BW-003", 1_000, 1)),
            (t.eu, receive("BW-004", 1_000, 1)),
        ],
    );
    // The third quarter: BW exported 4 ct in Q1 and nothing in Q2; now it
    // ships F, mined in Q1, when it has produced and imported nothing.
    let q3 = kp_ledger::testkit::START_TIME + 200 * 86_400;
    let q3_day = kp_ledger::units::day_of(q3);
    block_at(
        &mut t.chain,
        q3,
        vec![(
            t.bw,
            issue("BW-005", t.exporter, t.importer, vec![f], q3_day + 30),
        )],
    );

    let all = findings(&t.chain, &everyone());
    let of = |kind| all.iter().filter(move |f: &&Finding| f.kind == kind);
    let discrepancy: Vec<_> = of(AnomalyKind::ReceiptDiscrepancy).collect();
    assert_eq!(discrepancy.len(), 1, "{all:#?}");
    assert_eq!(discrepancy[0].certificates, vec!["BW-002".to_owned()]);
    assert_eq!(discrepancy[0].parcels, vec![b]);
    assert_eq!(
        discrepancy[0].detail,
        "certified 1.000 ct in 1 parcels, received 0.900 ct in 1 parcels"
    );
    let expired: Vec<_> = of(AnomalyKind::ExpiredWithoutReceipt).collect();
    assert_eq!(expired.len(), 1, "{all:#?}");
    assert_eq!(expired[0].certificates, vec!["BW-001".to_owned()]);
    assert_eq!(expired[0].when, kp_ledger::units::Day(day + 10).to_string());
    let flagged: Vec<_> = of(AnomalyKind::FlaggedParcel).collect();
    assert_eq!(flagged.len(), 1, "{all:#?}");
    assert_eq!(flagged[0].parcels, vec![d]);
    assert_eq!(flagged[0].participant.as_str(), "BW");
    let band: Vec<_> = of(AnomalyKind::ValueOutsideBand).collect();
    assert_eq!(band.len(), 1, "{all:#?}");
    assert_eq!(band[0].certificates, vec!["BW-004".to_owned()]);
    assert_eq!(band[0].parcels, vec![e]);
    assert_eq!(
        band[0].detail,
        "US$ 10.00/ct against US$ 85.00/ct at the average of origin BW (-88%)"
    );
    let changes: Vec<(String, String, String)> = of(AnomalyKind::PeriodChange)
        .map(|f| (f.participant.to_string(), f.when.clone(), f.detail.clone()))
        .collect();
    assert!(
        changes.contains(&(
            "BW".into(),
            "2026-Q2".into(),
            "exports 0.000 ct against 4.000 ct in 2026-Q1 (-100%)".into()
        )),
        "{changes:#?}"
    );
    assert!(
        changes.contains(&(
            "BW".into(),
            "2026-H2".into(),
            "production 0.000 ct against 6.000 ct in 2026-H1 (-100%)".into()
        )),
        "{changes:#?}"
    );

    // A threshold above every change silences that check alone.
    let lenient = AnomalyQuery::parse(None, None, None, Some("1000"), None).expect("query");
    let rest = findings(&t.chain, &lenient);
    assert!(rest.iter().all(|f| f.kind != AnomalyKind::PeriodChange));
    assert_eq!(rest.len(), 4);
    // So does a band wide enough.
    let wide = AnomalyQuery::parse(None, None, Some("90"), None, None).expect("query");
    assert!(findings(&t.chain, &wide)
        .iter()
        .all(|f| f.kind != AnomalyKind::ValueOutsideBand));
    // The EU is the other side of every certificate, and holds no parcel.
    let eu = AnomalyQuery::parse(Some("eu"), None, None, Some("1000"), None).expect("query");
    let kinds: Vec<AnomalyKind> = findings(&t.chain, &eu).iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![
            AnomalyKind::ReceiptDiscrepancy,
            AnomalyKind::ExpiredWithoutReceipt,
            AnomalyKind::ValueOutsideBand,
        ]
    );
    // Since the third quarter: the receipts and the expiry are before it,
    // and BW's shipment of F draws on diamonds mined before it.
    let late =
        AnomalyQuery::parse(None, Some("2026-07-01"), None, Some("1000"), None).expect("query");
    let found = findings(&t.chain, &late);
    let kinds: Vec<AnomalyKind> = found.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![AnomalyKind::ExportsExceedSupply, AnomalyKind::FlaggedParcel]
    );
    assert_eq!(found[0].participant.as_str(), "BW");
    assert_eq!(found[0].certificates, vec!["BW-005".to_owned()]);
    assert_eq!(
        found[0].when,
        format!("2026-07-01 to {}", kp_ledger::units::Day(q3_day))
    );
    assert_eq!(
        found[0].detail,
        "exported 1.000 ct of own origin against 0.000 ct produced and 0.000 ct imported"
    );
    // A `since` past the tip looks at nothing but the flags in force.
    let future = AnomalyQuery::parse(None, Some("2099-01-01"), None, None, None).expect("query");
    let kinds: Vec<AnomalyKind> = findings(&t.chain, &future).iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![AnomalyKind::FlaggedParcel]);
}

#[test]
fn bad_queries_are_refused_with_their_codes() {
    let code =
        |p, s, b, c, m| AnomalyQuery::parse(p, s, b, c, m).map_err(|e: AnomalyQueryError| e.code());
    assert_eq!(
        code(Some("B1"), None, None, None, None).err(),
        Some("bad_participant")
    );
    assert_eq!(
        code(None, Some("2026-02-30"), None, None, None).err(),
        Some("bad_date")
    );
    for threshold in ["0", "50000", "x", "1001", "-5", "12.5"] {
        let some = Some(threshold);
        for (b, c, m) in [(some, None, None), (None, some, None), (None, None, some)] {
            assert_eq!(
                code(None, None, b, c, m).err(),
                Some("bad_threshold"),
                "{b:?} {c:?} {m:?}"
            );
        }
    }
    let err = AnomalyQuery::parse(None, None, None, None, Some("0")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`0` is not a percentage for markup: give a whole number from 1 to 1000"
    );
    let query = code(
        Some("bw"),
        Some("2026-01-01"),
        Some("30"),
        Some("25"),
        Some("75"),
    );
    assert!(query.is_ok());
    assert_eq!(
        AnomalyQuery::parse(None, None, None, None, None)
            .map(|q| q.markup_percent)
            .ok(),
        Some(kp_wire::anomalies::MARKUP_PERCENT_DEFAULT)
    );
}

/// `body` with the exporting authority's declared value.
fn declaring(mut body: Body, cents: u64) -> Body {
    if let Body::IssueCertificate { value_cents, .. } = &mut body {
        *value_cents = Some(cents);
    }
    body
}

/// BW ships A and B (US$ 100/ct) under BW-1 and C (declared at US$ 50/ct)
/// under BW-2 to India, which sorts A and B and re-exports to the EU: with
/// a mark-up, at the import price, and C with a mark-down.
#[test]
fn markups_and_markdowns_on_reexport_are_found_and_the_import_price_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = bw_trade(dir.path(), EARLY_Q1, &[10_000; 3]);
    let [a, b, c] = [t.parcels[0], t.parcels[1], t.parcels[2]];
    let w = &mut t.chain;
    let india = w.authority("IN");
    let (in_importer, in_exporter) = (w.key("in importer"), w.key("in exporter"));
    block_at(
        &mut t.chain,
        EARLY_Q1,
        vec![
            (india, enrol(in_importer, Role::Importer, "IN importer")),
            (india, enrol(in_exporter, Role::Exporter, "IN exporter")),
        ],
    );
    let to_india = |number, parcels| {
        certificate(
            number,
            t.exporter,
            in_importer,
            "IN",
            parcels,
            vec![HsCode::UNSORTED],
        )
    };
    let ship_in = vec![
        (t.bw, to_india("BW-1", vec![a, b])),
        (t.bw, declaring(to_india("BW-2", vec![c]), 2_500)),
    ];
    block_at(&mut t.chain, EARLY_Q1, ship_in);
    block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        vec![
            (india, receive("BW-1", 2_000, 2)),
            (india, receive("BW-2", 1_000, 1)),
        ],
    );
    let offers = block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        [a, b, c]
            .iter()
            .map(|p| (in_importer, offer(*p, in_exporter)))
            .collect(),
    );
    block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        offers.iter().map(|o| (in_exporter, accept(o[0]))).collect(),
    );
    // A into 0.4 ct and 0.6 ct; the 0.6 ct merged with B into 1.6 ct.
    let parts = block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        vec![(
            in_exporter,
            Body::SplitParcel {
                parcel: a,
                outputs: [400, 600]
                    .map(|milli_carats| kp_ledger::tx::SplitOutput {
                        milli_carats,
                        hs_code: None,
                    })
                    .to_vec(),
            },
        )],
    );
    let (a4, a6) = (parts[0][0], parts[0][1]);
    let merged = block_at(
        &mut t.chain,
        EARLY_Q1 + 86_400,
        vec![(
            in_exporter,
            Body::MergeParcels {
                parcels: vec![a6, b],
            },
        )],
    )[0][0];
    let to_eu = |number, parcels, cents| {
        declaring(
            certificate(
                number,
                in_exporter,
                t.importer,
                "EU",
                parcels,
                vec![HsCode::UNSORTED],
            ),
            cents,
        )
    };
    block_at(
        &mut t.chain,
        EARLY_Q1 + 2 * 86_400,
        vec![
            // US$ 250/ct against 100: +150%.
            (india, to_eu("IN-1", vec![merged], 40_000)),
            // At the import price.
            (india, to_eu("IN-2", vec![a4], 4_000)),
            // US$ 5/ct against 25: the import 400% above.
            (india, to_eu("IN-3", vec![c], 500)),
        ],
    );

    let markups = |markup: Option<&str>| -> Vec<Finding> {
        let query = AnomalyQuery::parse(None, None, None, None, markup).expect("query");
        findings(&t.chain, &query)
            .into_iter()
            .filter(|f| f.kind == AnomalyKind::MarkupOnReexport)
            .collect()
    };
    let found = markups(None);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].participant.as_str(), "IN");
    assert_eq!(found[0].partner.map(|p| p.to_string()), Some("EU".into()));
    assert_eq!(
        found[0].certificates,
        vec!["IN-1".to_owned(), "BW-1".into()]
    );
    let mut imported = vec![a, b];
    imported.sort();
    assert_eq!(found[0].parcels, [vec![merged], imported].concat());
    assert_eq!(
        found[0].detail,
        "US$ 250.00/ct re-exported against US$ 100.00/ct imported under BW-1 (+150%), \
         1.600 ct of 1.600 ct traced to imports"
    );
    assert_eq!(
        found[1].certificates,
        vec!["IN-3".to_owned(), "BW-2".into()]
    );
    assert_eq!(found[1].parcels, vec![c]);
    assert_eq!(
        found[1].detail,
        "US$ 5.00/ct re-exported against US$ 25.00/ct imported under BW-2 (-80%), \
         1.000 ct of 1.000 ct traced to imports"
    );
    // A change of exactly the threshold is not beyond it: 150 keeps only
    // the mark-down (the import at five times the re-export, +400%), 400
    // keeps nothing.
    assert_eq!(markups(Some("149")).len(), 2);
    let kept: Vec<Vec<String>> = markups(Some("150"))
        .into_iter()
        .map(|f| f.certificates)
        .collect();
    assert_eq!(kept, vec![vec!["IN-3".to_owned(), "BW-2".into()]]);
    assert_eq!(markups(Some("399")).len(), 1);
    assert_eq!(markups(Some("400")), vec![]);
    // The EU is the other side of both; BW of neither.
    let bw = AnomalyQuery::parse(Some("BW"), None, None, Some("1000"), None).expect("query");
    assert!(findings(&t.chain, &bw)
        .iter()
        .all(|f| f.kind != AnomalyKind::MarkupOnReexport));
}
