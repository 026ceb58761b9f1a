//! How consensus messages, synced blocks and write-ahead-log entries are
//! put into bytes: borsh throughout, as for everything the ledger hashes.
//!
//! The engine provides borsh encodings for most of its types; the few it
//! does not (commit certificates with their extensions, validator proofs)
//! are mirrored here field by field.

use std::io;

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use kp_crypto::Signature;
use kp_ledger::finality::CommitProof;
use kp_store::CertificateFormat;
use malachitebft_core_consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_core_types::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round,
    SignedExtension, ValidatorProof, VoteExtensions,
};
use malachitebft_engine::util::streaming::StreamMessage;
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueResponse};

use super::context::{Address, BlockId, BlockPart, Height, KpContext};

#[derive(Clone, Copy, Debug, Default)]
pub struct BorshCodec;

fn decode_all<T: BorshDeserialize>(bytes: &[u8]) -> io::Result<T> {
    // `from_slice` refuses trailing bytes: one value, one encoding.
    borsh::from_slice(bytes)
}

/// Types whose borsh encoding the engine (or this crate) defines.
macro_rules! borsh_codec {
    ($($t:ty),* $(,)?) => {$(
        impl malachitebft_app_channel::app::types::codec::Codec<$t> for BorshCodec {
            type Error = io::Error;

            fn decode(&self, bytes: Bytes) -> io::Result<$t> {
                decode_all(&bytes)
            }

            fn encode(&self, msg: &$t) -> io::Result<Bytes> {
                borsh::to_vec(msg).map(Bytes::from)
            }
        }
    )*};
}

borsh_codec!(
    BlockPart,
    SignedConsensusMsg<KpContext>,
    LivenessMsg<KpContext>,
    StreamMessage<BlockPart>,
    ProposedValue<KpContext>,
    PolkaCertificate<KpContext>,
    Status<KpContext>,
    Request<KpContext>,
);

/// A commit certificate with each signer's (unused) vote extension.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct CertificateBytes {
    height: Height,
    round: Round,
    value_id: BlockId,
    signatures: Vec<(Address, Signature, Option<SignedExtension<KpContext>>)>,
}

impl From<&ExtendedCommitCertificate<KpContext>> for CertificateBytes {
    fn from(c: &ExtendedCommitCertificate<KpContext>) -> Self {
        CertificateBytes {
            height: c.height,
            round: c.round,
            value_id: c.value_id,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| (s.address, s.signature, s.extension.clone()))
                .collect(),
        }
    }
}

impl From<CertificateBytes> for ExtendedCommitCertificate<KpContext> {
    fn from(c: CertificateBytes) -> Self {
        ExtendedCommitCertificate {
            height: c.height,
            round: c.round,
            value_id: c.value_id,
            commit_signatures: c
                .signatures
                .into_iter()
                .map(|(address, signature, extension)| {
                    ExtendedCommitSignature::new(address, signature, extension)
                })
                .collect(),
        }
    }
}

/// The bytes a decided block's certificate is stored as, next to the block.
pub fn encode_certificate(
    certificate: &CommitCertificate<KpContext>,
    extensions: VoteExtensions<KpContext>,
) -> Vec<u8> {
    let extended = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
        certificate.clone(),
        extensions,
    );
    // Serialising to a Vec cannot fail.
    borsh::to_vec(&CertificateBytes::from(&extended)).unwrap_or_default()
}

pub fn decode_certificate(bytes: &[u8]) -> io::Result<ExtendedCommitCertificate<KpContext>> {
    decode_all::<CertificateBytes>(bytes).map(Into::into)
}

/// A stored certificate as an offline verifier checks it, with no engine
/// (see `kp_ledger::finality`).
pub fn commit_proof(bytes: &[u8]) -> io::Result<CommitProof> {
    let certificate = decode_certificate(bytes)?.trim_vote_extensions();
    Ok(CommitProof {
        height: certificate.height.0,
        round: certificate.round.as_i64(),
        block: certificate.value_id.0,
        precommits: certificate
            .commit_signatures
            .iter()
            .map(|s| (s.address.0, s.signature))
            .collect(),
    })
}

/// The certificates a node's store keeps: the engine's, encoded as
/// [`encode_certificate`] does, which sync serves back to peers as they are.
/// The store reads them as proofs through this when it builds bundles.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineCertificates;

impl CertificateFormat for EngineCertificates {
    fn commit_proof(&self, stored: &[u8]) -> Result<CommitProof, String> {
        commit_proof(stored).map_err(|e| e.to_string())
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct ResponseBytes {
    start_height: Height,
    values: Vec<(Vec<u8>, CertificateBytes)>,
}

impl malachitebft_app_channel::app::types::codec::Codec<Response<KpContext>> for BorshCodec {
    type Error = io::Error;

    fn decode(&self, bytes: Bytes) -> io::Result<Response<KpContext>> {
        let wire: ResponseBytes = decode_all(&bytes)?;
        let values = wire
            .values
            .into_iter()
            .map(|(value_bytes, certificate)| RawDecidedValue {
                value_bytes: Bytes::from(value_bytes),
                certificate: certificate.into(),
            })
            .collect();
        Ok(Response::ValueResponse(ValueResponse::new(
            wire.start_height,
            values,
        )))
    }

    fn encode(&self, msg: &Response<KpContext>) -> io::Result<Bytes> {
        let Response::ValueResponse(response) = msg;
        let wire = ResponseBytes {
            start_height: response.start_height,
            values: response
                .values
                .iter()
                .map(|v| {
                    (
                        v.value_bytes.to_vec(),
                        CertificateBytes::from(&v.certificate),
                    )
                })
                .collect(),
        };
        borsh::to_vec(&wire).map(Bytes::from)
    }
}

impl malachitebft_app_channel::app::types::codec::HasEncodedLen<Response<KpContext>>
    for BorshCodec
{
    fn encoded_len(&self, msg: &Response<KpContext>) -> io::Result<usize> {
        use malachitebft_app_channel::app::types::codec::Codec;
        Codec::<Response<KpContext>>::encode(self, msg).map(|bytes| bytes.len())
    }
}

impl malachitebft_app_channel::app::types::codec::Codec<ValidatorProof<KpContext>> for BorshCodec {
    type Error = io::Error;

    fn decode(&self, bytes: Bytes) -> io::Result<ValidatorProof<KpContext>> {
        let (public_key, peer_id, signature): (Vec<u8>, Vec<u8>, Signature) = decode_all(&bytes)?;
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }

    fn encode(&self, proof: &ValidatorProof<KpContext>) -> io::Result<Bytes> {
        borsh::to_vec(&(&proof.public_key, &proof.peer_id, &proof.signature)).map(Bytes::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::SecretKey;
    use malachitebft_core_types::CommitSignature;

    #[test]
    fn certificates_round_trip() {
        let key = SecretKey::generate();
        let certificate = CommitCertificate::<KpContext> {
            height: Height(7),
            round: Round::new(2),
            value_id: BlockId(kp_crypto::Hash32([9; 32])),
            commit_signatures: vec![CommitSignature::new(
                Address(key.public()),
                key.sign(b"vote"),
            )],
        };
        let bytes = encode_certificate(&certificate, VoteExtensions::default());
        let back = decode_certificate(&bytes).expect("decodes");
        assert_eq!(back.trim_vote_extensions(), certificate);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_certificate(&longer).is_err(), "trailing bytes");
    }

    /// The engine's certificate of precommits signed by the node's signer
    /// passes the ledger's offline check: both sign and check the same bytes.
    #[tokio::test]
    async fn a_certificate_the_engine_makes_is_checked_offline() {
        use malachitebft_core_types::{Context, NilOrVal};
        use malachitebft_signing::Signer;
        use std::sync::Arc;

        use crate::consensus::context::ValidatorSigner;

        let keys: Vec<Arc<SecretKey>> = (0..4).map(|_| Arc::new(SecretKey::generate())).collect();
        let set: Vec<_> = keys
            .iter()
            .zip(["BW", "EU", "ZA", "IN"])
            .map(|(k, c)| (kp_ledger::testkit::code(c), k.public()))
            .collect();
        const GENESIS: kp_crypto::Hash32 = kp_crypto::Hash32([5; 32]);
        let block = BlockId(kp_crypto::Hash32([9; 32]));
        let (height, round) = (Height(7), Round::new(1));
        let mut commit_signatures = Vec::new();
        for key in &keys[..3] {
            let vote =
                KpContext.new_precommit(height, round, NilOrVal::Val(block), Address(key.public()));
            let signed = ValidatorSigner::new(key.clone(), GENESIS)
                .sign_vote(vote)
                .await
                .expect("signs");
            commit_signatures.push(CommitSignature::new(
                Address(key.public()),
                signed.signature,
            ));
        }
        let certificate = CommitCertificate::<KpContext> {
            height,
            round,
            value_id: block,
            commit_signatures,
        };
        let bytes = encode_certificate(&certificate, VoteExtensions::default());
        let proof = commit_proof(&bytes).expect("decodes");
        assert_eq!(proof.verify(&GENESIS, &block.0, 7, &set), Ok(()));
        assert!(proof.verify(&GENESIS, &block.0, 8, &set).is_err());
        // Votes are for one chain: those of a chain of another genesis
        // decide nothing here.
        assert!(proof
            .verify(&kp_crypto::Hash32([6; 32]), &block.0, 7, &set)
            .is_err());
    }
}
