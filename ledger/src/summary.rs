//! One line saying what a committed transaction did, as `kp` shows history
//! and as the node's event stream carries it: kept here, beside the bodies it
//! reads, so that the stream and the views word an event alike.

use kp_crypto::Hash32;

use crate::tx::Body;
use crate::units::{Carats, Day, Usd};

/// Hex characters shown of an id inside a line; still a usable prefix.
const SHORT_HEX: usize = 12;

/// The first hex characters of an id or key: enough to tell apart and to
/// type back (any unique prefix of 8 or more is accepted).
pub fn short_id(id: &impl ToString) -> String {
    let mut s = id.to_string();
    s.truncate(SHORT_HEX);
    s
}

fn list_short(ids: &[Hash32]) -> String {
    ids.iter().map(short_id).collect::<Vec<_>>().join(", ")
}

/// What a transaction did, in one phrase.
pub fn describe(body: &Body, created: &[Hash32]) -> String {
    let made = |what: &str| -> String {
        if created.is_empty() {
            String::new()
        } else {
            format!(" -> {what} {}", list_short(created))
        }
    };
    match body {
        Body::EnrolMember {
            member,
            role,
            name,
            licence,
            zone,
        } => {
            let zone = zone
                .as_ref()
                .map(|z| format!(", zone {z}"))
                .unwrap_or_default();
            format!(
                "enrolled {} as {role} \"{name}\", licence {licence}{zone}",
                short_id(member)
            )
        }
        Body::RevokeMember { member } => format!("revoked member {}", short_id(member)),
        Body::RegisterParcel {
            origin,
            zone,
            mine,
            milli_carats,
            stones,
            value_cents,
            hs_code,
        } => {
            let zone = zone
                .as_ref()
                .map(|z| format!(" zone {z}"))
                .unwrap_or_default();
            format!(
                "{} ct, {stones} stones, US$ {}, HS {hs_code}, origin {origin}{zone}, mine {mine}{}",
                Carats(*milli_carats),
                Usd(*value_cents),
                made("parcel")
            )
        }
        Body::OfferTransfer {
            parcel,
            to,
            price_cents,
        } => {
            let price = price_cents
                .map(|c| format!(" for US$ {}", Usd(c)))
                .unwrap_or_default();
            format!(
                "parcel {} offered to {}{price}{}",
                short_id(parcel),
                short_id(to),
                made("transfer")
            )
        }
        Body::AcceptTransfer { transfer } => format!("transfer {} accepted", short_id(transfer)),
        Body::CancelTransfer { transfer } => format!("transfer {} cancelled", short_id(transfer)),
        Body::SplitParcel { parcel, outputs } => {
            let parts: Vec<String> = outputs
                .iter()
                .map(|o| match o.hs_code {
                    Some(hs) => format!("{} ct (HS {hs})", Carats(o.milli_carats)),
                    None => format!("{} ct", Carats(o.milli_carats)),
                })
                .collect();
            format!(
                "parcel {} split into {}{}",
                short_id(parcel),
                parts.join(" + "),
                made("parcels")
            )
        }
        Body::MergeParcels { parcels } => {
            format!("parcels {} merged{}", list_short(parcels), made("parcel"))
        }
        Body::IssueCertificate {
            number,
            exporter,
            importer,
            destination,
            parcels,
            hs_codes,
            expires_on,
            value_cents,
        } => {
            let hs: Vec<String> = hs_codes.iter().map(ToString::to_string).collect();
            let declared = value_cents
                .map(|v| format!(", declared US$ {}", Usd(v)))
                .unwrap_or_default();
            format!(
                "certificate {number} issued for {destination}: {} parcel(s), HS {}, exporter {}, importer {}, expires {}{declared}",
                parcels.len(),
                hs.join(", "),
                short_id(exporter),
                short_id(importer),
                Day(*expires_on)
            )
        }
        Body::ReceiveCertificate {
            number,
            milli_carats,
            parcel_count,
        } => format!(
            "certificate {number} received: {} ct, {parcel_count} parcel(s)",
            Carats(*milli_carats)
        ),
        Body::FlagParcel { parcel, reason } => {
            format!("parcel {} flagged: {reason}", short_id(parcel))
        }
        Body::ClearFlag { parcel } => format!("flag on parcel {} cleared", short_id(parcel)),
        Body::ProposeParticipantChange { change } => {
            format!("proposed: {change}{}", made("proposal"))
        }
        Body::ApproveParticipantChange { proposal } => {
            format!("approved proposal {}", short_id(proposal))
        }
    }
}
