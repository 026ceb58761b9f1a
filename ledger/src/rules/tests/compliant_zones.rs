//! The Central African Republic exports only from its compliant zones
//! (`docs/domain.md`): diamonds from a zone outside them find no way into
//! a certificate, while parcels from compliant zones go through a sorting
//! house's split and merge (a merge keeps every zone of its inputs) to
//! their export and import.

use super::*;
use crate::model::CertificateStatus;

fn register_body(zone: Option<&str>, milli_carats: u64) -> Body {
    let mut body = World::register_body("CF", milli_carats);
    if let Body::RegisterParcel { zone: z, .. } = &mut body {
        *z = zone.map(str::to_owned);
    }
    body
}

#[test]
fn diamonds_from_outside_the_compliant_zones_cannot_be_laundered_into_a_certificate() {
    let mut w = World::new();
    let bria = w.enrol("CF", "bria miner", Role::Miner, Some("Bria"));
    let berberati = w.enrol("CF", "berberati miner", Role::Miner, Some("Berbérati"));
    let carnot = w.enrol("CF", "carnot miner", Role::Miner, Some("Carnot"));
    let unzoned = w.enrol("CF", "miner of no zone", Role::Miner, None);
    let sorter = w.enrol("CF", "bangui sorter", Role::Sorter, None);
    let exporter = w.enrol("CF", "bangui exporter", Role::Exporter, None);
    let importer = w.enrol("EU", "antwerp", Role::Importer, None);

    // The miner of Bria cannot register, whether it names a compliant
    // zone, its own or none; nor can a miner whose authority gave it none.
    for zone in [Some("Berbérati"), Some("berbérati "), Some("Nola")] {
        assert_eq!(
            rejected(w.apply(&bria, register_body(zone, 1_000))),
            "zone_mismatch"
        );
    }
    for zone in [None, Some("Bria")] {
        assert_eq!(
            rejected(w.apply(&bria, register_body(zone, 1_000))),
            "zone_not_allowed"
        );
    }
    assert_eq!(
        rejected(w.apply(&unzoned, register_body(Some("Berbérati"), 1_000))),
        "zone_mismatch"
    );
    assert_eq!(
        rejected(w.apply(&unzoned, register_body(None, 1_000))),
        "zone_required"
    );

    // Berbérati's and Carnot's diamonds: sorted, split, merged, split
    // again, exported to the EU and received there.
    let named = register_body(Some("Berbérati"), 3_000);
    let first = w.ok(&berberati, named).created[0];
    let second = w.ok(&carnot, register_body(None, 1_000)).created[0];
    w.hand_over(&berberati, first, &sorter);
    w.hand_over(&carnot, second, &sorter);
    let parts = w.split(&sorter, first, &[2_000, 1_000]);
    assert_eq!(w.parcel(&parts[0]).zones, ["Berbérati"]);
    let merge = Body::MergeParcels {
        parcels: vec![parts[0], second],
    };
    let merged = w.ok(&sorter, merge).created[0];
    assert_eq!(w.parcel(&merged).zones, ["Berbérati", "Carnot"]);
    let shipped = w.split(&sorter, merged, &[2_500, 500])[0];
    assert_eq!(w.parcel(&shipped).zones, ["Berbérati", "Carnot"]);
    w.hand_over(&sorter, shipped, &exporter);
    let cf = w.authority("CF");
    w.ok(
        &cf,
        Body::IssueCertificate {
            number: "CF-2026-1".into(),
            exporter,
            importer,
            destination: code("EU"),
            parcels: vec![shipped],
            hs_codes: vec![HsCode::UNSORTED],
            expires_on: day_of(START_TIME) + 30,
            value_cents: None,
        },
    );
    let eu = w.authority("EU");
    w.ok(
        &eu,
        Body::ReceiveCertificate {
            number: "CF-2026-1".into(),
            milli_carats: 2_500,
            parcel_count: 1,
        },
    );
    let cert = w.state.certificate("CF-2026-1").unwrap().unwrap();
    assert_eq!(cert.status, CertificateStatus::Received);
    assert_eq!(cert.origins.len(), 1);
    assert_eq!(cert.origins[0].participant, code("CF"));
    assert_eq!(w.parcel(&shipped).holder, importer);
    // Every parcel on the ledger is from those two compliant zones.
    for parcel in w.state.records.parcels.values() {
        assert!(!parcel.zones.is_empty(), "{}", parcel.id);
        for zone in &parcel.zones {
            assert!(["Berbérati", "Carnot"].contains(&zone.as_str()), "{zone}");
        }
    }
}
