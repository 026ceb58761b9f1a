//! The Annex III statistics (`stats.rs`) against figures computed by hand,
//! and their index surviving a reopen.

use super::*;

/// Several Participants, mixed origins, three HS codes, two quarters, a
/// receipt with a discrepancy; every figure below computed by hand.
#[test]
fn statistics_match_hand_computed_totals() {
    use kp_wire::api::{Figures, StatsView};
    use kp_wire::stats::{Period, Scope};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = CertifiedChain::open(&dir.path().join("ledger.redb"));
    let w = &mut chain;
    let (bw, za, eu, india) = (
        w.authority("BW"),
        w.authority("ZA"),
        w.authority("EU"),
        w.authority("IN"),
    );
    let bw_miner = w.key("bw miner");
    let bw_exporter = w.key("bw exporter");
    let bw_importer = w.key("bw importer");
    let za_miner = w.key("za miner");
    let za_exporter = w.key("za exporter");
    let eu_importer = w.key("eu importer");
    let in_importer = w.key("in importer");
    block_at(
        &mut chain,
        Q1,
        vec![
            (bw, enrol(bw_miner, Role::Miner, "BW miner")),
            (bw, enrol(bw_exporter, Role::Exporter, "BW exporter")),
            (bw, enrol(bw_importer, Role::Importer, "BW importer")),
            (za, enrol(za_miner, Role::Miner, "ZA miner")),
            (za, enrol(za_exporter, Role::Exporter, "ZA exporter")),
            (eu, enrol(eu_importer, Role::Importer, "EU importer")),
            (india, enrol(in_importer, Role::Importer, "IN importer")),
        ],
    );
    let (unsorted, industrial, gem) =
        (HsCode::UNSORTED, HsCode::INDUSTRIAL, HsCode::NON_INDUSTRIAL);
    let ids = block_at(
        &mut chain,
        Q1,
        vec![
            (bw_miner, parcel_of("BW", 1_000_500, 15_000_075, unsorted)),
            (bw_miner, parcel_of("BW", 200_250, 3_000_000, gem)),
            (bw_miner, parcel_of("BW", 50_000, 100_000, industrial)),
            (za_miner, parcel_of("ZA", 500_000, 5_000_000, industrial)),
        ],
    );
    let [a, b, c, d] = [ids[0][0], ids[1][0], ids[2][0], ids[3][0]];
    let offers = block_at(
        &mut chain,
        Q1,
        vec![
            (bw_miner, offer(a, bw_exporter)),
            (bw_miner, offer(b, bw_exporter)),
            (bw_miner, offer(c, bw_exporter)),
            (za_miner, offer(d, za_exporter)),
        ],
    );
    block_at(
        &mut chain,
        Q1,
        vec![
            (bw_exporter, accept(offers[0][0])),
            (bw_exporter, accept(offers[1][0])),
            (bw_exporter, accept(offers[2][0])),
            (za_exporter, accept(offers[3][0])),
        ],
    );
    // First quarter: BW ships A and B to the EU, ZA ships D to BW.
    block_at(
        &mut chain,
        Q1,
        vec![
            (
                bw,
                certificate(
                    "BW-001",
                    bw_exporter,
                    eu_importer,
                    "EU",
                    vec![a, b],
                    vec![unsorted, gem],
                ),
            ),
            (
                za,
                certificate(
                    "ZA-001",
                    za_exporter,
                    bw_importer,
                    "BW",
                    vec![d],
                    vec![industrial],
                ),
            ),
        ],
    );
    // Third quarter: both received; BW mines E; D goes to the exporter and
    // is merged with C (mixed origin, BW and ZA) and shipped to India,
    // where 1 ct fewer is found.
    block_at(
        &mut chain,
        Q3,
        vec![
            (eu, receive("BW-001", 1_200_750, 2)),
            (bw, receive("ZA-001", 500_000, 1)),
            (bw_miner, parcel_of("BW", 10_000, 200_000, unsorted)),
            (bw_importer, offer(d, bw_exporter)),
        ],
    );
    let to_exporter = chain.store.snapshot().expect("snapshot");
    let transfer = to_exporter.parcel_events(&d).expect("events");
    let transfer = transfer.last().expect("offer").created[0];
    drop(to_exporter);
    block_at(&mut chain, Q3, vec![(bw_exporter, accept(transfer))]);
    let merged = block_at(
        &mut chain,
        Q3,
        vec![(
            bw_exporter,
            Body::MergeParcels {
                parcels: vec![c, d],
            },
        )],
    )[0][0];
    let merged_record = chain.snapshot().parcel(&merged).expect("read");
    assert!(merged_record.expect("parcel").is_mixed_origin());
    block_at(
        &mut chain,
        Q3,
        vec![(
            bw,
            certificate(
                "BW-002",
                bw_exporter,
                in_importer,
                "IN",
                vec![merged],
                vec![industrial],
            ),
        )],
    );
    block_at(&mut chain, Q3, vec![(india, receive("BW-002", 549_000, 1))]);

    let snapshot = chain.store.snapshot().expect("snapshot");
    let year = Period {
        year: 2026,
        scope: Scope::Year,
    };
    let stats = |code: &str, period: &Period| -> StatsView {
        snapshot
            .stats(code.parse().expect("code"), period)
            .expect("stats")
    };
    // (carats, US$, US$/ct, parcels, certificates, received carats)
    fn line(f: &Figures) -> (&str, &str, &str, u64, u64, &str) {
        (
            f.carats.as_str(),
            f.value_usd.as_str(),
            f.usd_per_carat.as_deref().unwrap_or("-"),
            f.parcels,
            f.certificates,
            f.received_carats.as_str(),
        )
    }

    let botswana = stats("BW", &year);
    let production: Vec<_> = botswana
        .production
        .periods
        .iter()
        .map(|p| (p.period.as_str(), line(&p.total)))
        .collect();
    assert_eq!(
        production,
        [
            ("H1", ("1250.750", "181000.75", "144.71", 3, 0, "0.000")),
            ("H2", ("10.000", "2000.00", "200.00", 1, 0, "0.000")),
        ]
    );
    assert_eq!(
        line(&botswana.production.total.total),
        ("1260.750", "183000.75", "145.15", 4, 0, "0.000")
    );
    let by_hs: Vec<_> = botswana
        .production
        .total
        .by_hs
        .iter()
        .map(|h| (h.hs_code.to_string(), line(&h.figures)))
        .collect();
    assert_eq!(
        by_hs,
        [
            (
                "7102.10".into(),
                ("1010.500", "152000.75", "150.42", 2, 0, "0.000")
            ),
            (
                "7102.21".into(),
                ("50.000", "1000.00", "20.00", 1, 0, "0.000")
            ),
            (
                "7102.31".into(),
                ("200.250", "30000.00", "149.81", 1, 0, "0.000")
            ),
        ]
    );
    assert!(botswana.production.total.by_partner.is_empty());

    let exports: Vec<_> = botswana
        .exports
        .periods
        .iter()
        .map(|p| (p.period.as_str(), line(&p.total)))
        .collect();
    assert_eq!(
        exports,
        [
            ("Q1", ("1200.750", "180000.75", "149.91", 2, 1, "0.000")),
            ("Q2", ("0.000", "0.00", "-", 0, 0, "0.000")),
            ("Q3", ("550.000", "51000.00", "92.73", 1, 1, "0.000")),
            ("Q4", ("0.000", "0.00", "-", 0, 0, "0.000")),
        ]
    );
    let total = &botswana.exports.total;
    assert_eq!(
        line(&total.total),
        ("1750.750", "231000.75", "131.94", 3, 2, "0.000")
    );
    let partners: Vec<_> = total
        .by_partner
        .iter()
        .map(|p| (p.partner.to_string(), line(&p.figures)))
        .collect();
    assert_eq!(
        partners,
        [
            (
                "EU".into(),
                ("1200.750", "180000.75", "149.91", 2, 1, "0.000")
            ),
            ("IN".into(), ("550.000", "51000.00", "92.73", 1, 1, "0.000")),
        ]
    );
    let by_hs: Vec<_> = total
        .by_hs
        .iter()
        .map(|h| (h.hs_code.to_string(), line(&h.figures)))
        .collect();
    assert_eq!(
        by_hs,
        [
            (
                "7102.10".into(),
                ("1000.500", "150000.75", "149.93", 1, 0, "0.000")
            ),
            // The mixed-origin parcel counts whole for its exporter.
            (
                "7102.21".into(),
                ("550.000", "51000.00", "92.73", 1, 0, "0.000")
            ),
            (
                "7102.31".into(),
                ("200.250", "30000.00", "149.81", 1, 0, "0.000")
            ),
        ]
    );
    // By origin, the mixed-origin shipment to India is shared: BW's 50 ct
    // and ZA's 500 ct of its US$ 51000.00 by carats, 4636.3636... and
    // 46363.6363..., the cent left over to ZA's larger remainder.
    let origins: Vec<_> = total
        .by_origin
        .iter()
        .map(|o| (o.origin.to_string(), line(&o.figures)))
        .collect();
    assert_eq!(
        origins,
        [
            (
                "BW".into(),
                ("1250.750", "184637.11", "147.62", 3, 2, "0.000")
            ),
            ("ZA".into(), ("500.000", "46363.64", "92.73", 1, 1, "0.000")),
        ]
    );
    let sum = |f: fn(&Figures) -> u64| total.by_origin.iter().map(|o| f(&o.figures)).sum::<u64>();
    assert_eq!(
        (sum(|f| f.milli_carats), sum(|f| f.value_cents)),
        (total.total.milli_carats, total.total.value_cents)
    );
    assert!(botswana.production.total.by_origin.is_empty());
    // Imports count in the quarter of the receipt, not of the issue.
    let q3 = Period {
        year: 2026,
        scope: Scope::Quarter(3),
    };
    let imports = stats("BW", &q3).imports;
    assert_eq!(imports.periods.len(), 1);
    assert_eq!(
        line(&imports.total.total),
        ("500.000", "50000.00", "100.00", 1, 1, "500.000")
    );
    assert_eq!(imports.total.by_partner[0].partner.as_str(), "ZA");
    let india_origins: Vec<_> = stats("IN", &q3)
        .imports
        .total
        .by_origin
        .iter()
        .map(|o| (o.origin.to_string(), o.figures.value_cents))
        .collect();
    assert_eq!(
        india_origins,
        [("BW".into(), 463_636), ("ZA".into(), 4_636_364)]
    );
    let india_q3 = stats("IN", &q3).imports.total.total;
    assert_eq!(
        line(&india_q3),
        ("550.000", "51000.00", "92.73", 1, 1, "549.000")
    );
    let q1 = Period {
        year: 2026,
        scope: Scope::Quarter(1),
    };
    assert_eq!(stats("EU", &q1).imports.total.total.milli_carats, 0);
    let h1 = Period {
        year: 2026,
        scope: Scope::Half(1),
    };
    let first_half = stats("BW", &h1);
    assert_eq!(first_half.production.periods.len(), 1);
    assert_eq!(first_half.production.total.total.milli_carats, 1_250_750);
    assert_eq!(first_half.exports.total.total.value_cents, 18_000_075);
    assert_eq!(
        stats(
            "BW",
            &Period {
                year: 2025,
                scope: Scope::Year
            }
        )
        .exports
        .total
        .total
        .certificates,
        0
    );

    // The published table: every Participant of the set, in code order.
    let table = snapshot.stats_table(&year).expect("table");
    let rows: Vec<_> = table
        .rows
        .iter()
        .map(|r| {
            (
                r.participant.to_string(),
                r.production.carats.as_str(),
                r.exports.carats.as_str(),
                r.imports.carats.as_str(),
                r.exports.certificates,
                r.imports.certificates,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("BW".into(), "1260.750", "1750.750", "500.000", 2, 1),
            ("CF".into(), "0.000", "0.000", "0.000", 0, 0),
            ("EU".into(), "0.000", "0.000", "1200.750", 0, 1),
            ("IN".into(), "0.000", "0.000", "550.000", 0, 1),
            ("VE".into(), "0.000", "0.000", "0.000", 0, 0),
            ("ZA".into(), "500.000", "500.000", "0.000", 1, 0),
        ]
    );
    drop(snapshot);

    // The index survives a reopen: it is in the file, not in memory.
    drop(chain);
    let again = open(&dir.path().join("ledger.redb"));
    let reopened = again
        .snapshot()
        .expect("snapshot")
        .stats("BW".parse().expect("code"), &year);
    assert_eq!(reopened.expect("stats"), botswana);
}
