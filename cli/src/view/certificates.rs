//! Certificates: `kp cert show`, every field of KPCS Annex I.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kp_ledger::model::{Certificate, CertificateStatus, Member, Participant, ParticipantCode};
use kp_ledger::units::{Carats, Day};

use crate::view::units::value_line;

/// What a certificate view knows beyond the certificate: names of
/// Participants, the exporter and importer as enrolled.
pub struct CertificateContext<'a> {
    pub participants: &'a [Participant],
    pub exporter: Option<&'a Member>,
    pub importer: Option<&'a Member>,
}

impl CertificateContext<'_> {
    fn name(&self, code: ParticipantCode) -> String {
        let names: BTreeMap<ParticipantCode, &str> = self
            .participants
            .iter()
            .map(|p| (p.code, p.name.as_str()))
            .collect();
        match names.get(&code) {
            Some(name) => format!("{name} ({code})"),
            None => code.to_string(),
        }
    }
}

fn party(key: &kp_crypto::PublicKey, member: Option<&Member>) -> String {
    match member {
        Some(m) => format!(
            "{}, licence {} ({}), key {key}",
            m.name, m.licence, m.participant
        ),
        None => format!("key {key}"),
    }
}

/// `kp cert show`: every field of KPCS Annex I, in its order.
pub fn certificate(c: &Certificate, ctx: &CertificateContext<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", Certificate::TITLE);
    let _ = writeln!(out, "{}.", Certificate::STATEMENT);
    let _ = writeln!(out);
    let origin = match c.origins.as_slice() {
        [one] => ctx.name(one.participant),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|s| format!("{} {} ct", ctx.name(s.participant), Carats(s.milli_carats)))
                .collect();
            format!("mixed origin: {}", parts.join("; "))
        }
    };
    let authority = ctx
        .participants
        .iter()
        .find(|p| p.code == c.issuer)
        .map(|p| format!("{}, authority key {}", ctx.name(c.issuer), p.authority))
        .unwrap_or_else(|| ctx.name(c.issuer));
    let hs: Vec<String> = c.hs_codes.iter().map(ToString::to_string).collect();
    let rows: Vec<(&str, String)> = vec![
        ("Certificate number", c.number.clone()),
        ("Country of origin", origin),
        ("Date of issue", Day(c.issued_on).to_string()),
        ("Date of expiry", Day(c.expires_on).to_string()),
        ("Issuing authority", authority),
        ("Exporter", party(&c.exporter, ctx.exporter)),
        ("Importer", party(&c.importer, ctx.importer)),
        ("Destination", ctx.name(c.destination)),
        ("Carat weight", format!("{} ct", Carats(c.milli_carats))),
        ("Value", value_line(c.value_cents, c.milli_carats)),
        ("Number of parcels", c.parcels.len().to_string()),
        ("HS code(s)", hs.join(", ")),
        (
            "Validation",
            format!(
                "signed by the authority of {}, committed at height {}",
                c.issuer, c.issued_height
            ),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<20}  {value}");
    }
    for p in &c.parcels {
        let _ = writeln!(out, "{:<20}  {p}", "Parcel");
    }
    let status = match (&c.status, &c.receipt) {
        (CertificateStatus::InTransit, _) => "in transit: not yet received".to_owned(),
        (_, Some(r)) => {
            let verdict = if r.matches {
                "matches the certificate".to_owned()
            } else {
                "DISCREPANCY with the certificate".to_owned()
            };
            format!(
                "received on {} at height {}: {} ct, {} parcel(s); {verdict}",
                Day(r.received_on),
                r.height,
                Carats(r.milli_carats),
                r.parcel_count
            )
        }
        (CertificateStatus::Received, None) => "received".to_owned(),
        (CertificateStatus::Discrepancy, None) => "received with a discrepancy".to_owned(),
    };
    let _ = writeln!(out, "{:<20}  {status}", "Status");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::{Hash32, PublicKey};
    use kp_ledger::model::{HsCode, OriginShare, ParticipantStatus, Receipt};

    #[test]
    fn certificate_has_every_annex_i_field() {
        let cert = Certificate {
            number: "BW-2026-0001".into(),
            issuer: ParticipantCode(*b"BW"),
            destination: ParticipantCode(*b"EU"),
            exporter: PublicKey([1; 32]),
            importer: PublicKey([2; 32]),
            origins: vec![OriginShare {
                participant: ParticipantCode(*b"BW"),
                milli_carats: 10_000,
            }],
            milli_carats: 10_000,
            value_cents: 150_000,
            parcels: vec![Hash32([3; 32])],
            hs_codes: vec![HsCode::UNSORTED],
            issued_on: 20_000,
            expires_on: 20_060,
            issued_height: 7,
            status: CertificateStatus::Discrepancy,
            receipt: Some(Receipt {
                milli_carats: 9_000,
                parcel_count: 1,
                received_on: 20_010,
                height: 9,
                matches: false,
            }),
        };
        let bw = Participant {
            code: ParticipantCode(*b"BW"),
            name: "Botswana".into(),
            authority: PublicKey([7; 32]),
            validator: Some(PublicKey([8; 32])),
            status: ParticipantStatus::Active,
        };
        let participants = [bw];
        let ctx = CertificateContext {
            participants: &participants,
            exporter: None,
            importer: None,
        };
        let text = certificate(&cert, &ctx);
        for needle in [
            Certificate::TITLE,
            Certificate::STATEMENT,
            "Certificate number    BW-2026-0001",
            "Country of origin     Botswana (BW)",
            "Date of issue         2024-10-04",
            "Date of expiry        2024-12-03",
            "Issuing authority     Botswana (BW), authority key 0707",
            "Exporter              key 0101",
            "Importer              key 0202",
            "Destination           EU",
            "Carat weight          10.000 ct",
            "Value                 US$ 1500.00 (US$ 150.00/ct)",
            "Number of parcels     1",
            "HS code(s)            7102.10",
            "Validation            signed by the authority of BW",
            "DISCREPANCY",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
