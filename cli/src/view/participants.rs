//! Participants and the proposals that change them: `kp participant list`,
//! `kp participant proposals` and `kp participant proposal`.

use std::fmt::Write as _;

use kp_ledger::model::{Participant, ProposalStatus};
use kp_ledger::summary::short_id;
use kp_wire::api::ProposalView;

/// `kp participant list`: one line each, aligned: code, name, authority,
/// validator (if it runs one), standing. Padded here rather than with a
/// table crate: only the name varies in width, and the layout (two-space
/// gutters, no borders) is the one `kp stats` prints too.
pub fn participants(list: &[Participant]) -> String {
    let name_width = list
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for p in list {
        let pad = name_width.saturating_sub(p.name.chars().count());
        let validator = match &p.validator {
            Some(key) => format!("validator {}", short_id(key)),
            None => "no validator".to_owned(),
        };
        let _ = writeln!(
            out,
            "{}  {}{}  authority {}  {validator:<22}  {}",
            p.code,
            p.name,
            " ".repeat(pad),
            short_id(&p.authority),
            p.status
        );
    }
    if list.is_empty() {
        out.push_str("no Participants\n");
    }
    out
}

/// `2 of 4 active Participants approve, 3 needed`: counted now.
pub fn tally(p: &ProposalView) -> String {
    format!(
        "{} of {} active Participants approve, {} needed",
        p.counted, p.active, p.needed
    )
}

fn approvers(p: &ProposalView) -> String {
    let codes: Vec<String> = p.approvals.iter().map(ToString::to_string).collect();
    codes.join(", ")
}

/// `applied at height 14 (3 of 4 active Participants approved)` or `open: …`.
pub fn proposal_state(p: &ProposalView) -> String {
    match &p.status {
        ProposalStatus::Executed {
            height,
            approvals,
            active,
        } => format!(
            "applied at height {height} ({approvals} of {active} active Participants approved)"
        ),
        ProposalStatus::Open => match &p.blocked {
            Some(e) => format!(
                "open, but cannot apply now: {} ({}); {}",
                e.message,
                e.code,
                tally(p)
            ),
            None => format!("open: {}", tally(p)),
        },
    }
}

/// `kp participant proposals`: one line each.
pub fn proposals(list: &[ProposalView]) -> String {
    let mut out = String::new();
    for p in list {
        let _ = writeln!(
            out,
            "{}  {}  (by {} at height {}; approved by {}); {}",
            short_id(&p.id),
            p.change,
            p.proposer,
            p.proposed_height,
            approvers(p),
            proposal_state(p)
        );
    }
    if list.is_empty() {
        out.push_str("no open proposals\n");
    }
    out
}

/// `kp participant proposal ID`: one proposal, field by field.
pub fn proposal(p: &ProposalView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "proposal {}", p.id);
    let _ = writeln!(out, "  change     {}", p.change);
    let _ = writeln!(
        out,
        "  proposed   by {} at height {}",
        p.proposer, p.proposed_height
    );
    let _ = writeln!(out, "  approved   by {}", approvers(p));
    let _ = writeln!(out, "  status     {}", proposal_state(p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::{Hash32, PublicKey};
    use kp_ledger::model::{ParticipantChange, ParticipantCode, ParticipantStatus};
    use kp_wire::api::ApiError;

    fn code(s: &str) -> ParticipantCode {
        s.parse().unwrap()
    }

    #[test]
    fn participants_show_validator_and_standing() {
        let list = [
            Participant {
                code: code("BW"),
                name: "Botswana".into(),
                authority: PublicKey([7; 32]),
                validator: Some(PublicKey([8; 32])),
                status: ParticipantStatus::Active,
            },
            Participant {
                code: code("CF"),
                name: "Central African Republic".into(),
                authority: PublicKey([9; 32]),
                validator: None,
                status: ParticipantStatus::Restricted {
                    zones: vec!["Boda".into(), "Nola".into()],
                },
            },
        ];
        let text = participants(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "BW  Botswana                  authority 070707070707  validator 080808080808  active"
        );
        assert_eq!(
            lines[1],
            "CF  Central African Republic  authority 090909090909  no validator            \
             restricted to compliant zones: Boda, Nola"
        );
    }

    #[test]
    fn proposals_show_change_tally_and_state() {
        let mut open = ProposalView {
            id: Hash32([0x8e; 32]),
            change: ParticipantChange::Suspend {
                code: code("CF"),
                zones: vec!["Boda".into()],
            },
            proposer: code("BW"),
            proposed_height: 12,
            approvals: vec![code("BW"), code("EU")],
            counted: 2,
            active: 4,
            needed: 3,
            status: ProposalStatus::Open,
            blocked: None,
        };
        assert_eq!(
            proposals(std::slice::from_ref(&open)),
            "8e8e8e8e8e8e  suspend CF except its compliant zones Boda  (by BW at height 12; \
             approved by BW, EU); open: 2 of 4 active Participants approve, 3 needed\n"
        );
        open.blocked = Some(ApiError {
            code: "change_moot".into(),
            message: "CF is already restricted to compliant zones: Boda".into(),
        });
        assert!(
            proposal(&open).contains(
                "status     open, but cannot apply now: CF is already restricted to compliant \
                 zones: Boda (change_moot); 2 of 4"
            ),
            "{}",
            proposal(&open)
        );
        let executed = ProposalView {
            status: ProposalStatus::Executed {
                height: 14,
                approvals: 3,
                active: 4,
            },
            blocked: None,
            ..open
        };
        let text = proposal(&executed);
        assert!(text.contains("approved   by BW, EU"), "{text}");
        assert!(
            text.contains("status     applied at height 14 (3 of 4 active Participants approved)"),
            "{text}"
        );
        assert_eq!(proposals(&[]), "no open proposals\n");
    }
}
