//! Checksums a provider states for an object's whole content, beside the SHA-256 Stowage
//! records itself: an object another tool wrote carries no SHA-256, and a download of it is
//! checked against whichever of these its provider gives (an S3 `x-amz-checksum-*` of the full
//! object, the MD5 a single-part upload's ETag is, rclone's `md5chksum` metadata).

use base64::Engine;

/// The algorithms a provider's checksum may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Md5,
    Sha256,
    /// CRC-32 (ISO-HDLC, as zlib and `x-amz-checksum-crc32`).
    Crc32,
    /// CRC-32C (Castagnoli, `x-amz-checksum-crc32c`).
    Crc32c,
    /// CRC-64/NVME (`x-amz-checksum-crc64nvme`, what current AWS SDKs and CLIs send by default).
    Crc64Nvme,
}

impl ChecksumAlgorithm {
    /// The name users read ("CRC-64/NVME verified").
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
            Self::Crc32 => "CRC-32",
            Self::Crc32c => "CRC-32C",
            Self::Crc64Nvme => "CRC-64/NVME",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha256 => 32,
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
        }
    }
}

/// A checksum of an object's whole content, as its provider states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// The digest's bytes (the CRCs big-endian, as S3 sends them).
    pub digest: Vec<u8>,
    /// Where it was stated, for messages: "the ETag", "x-amz-checksum-crc64nvme", …
    pub source: &'static str,
}

impl ProviderChecksum {
    /// From a base64 value (S3's `x-amz-checksum-*` headers, rclone's `md5chksum`). A
    /// composite checksum of a multipart upload (`…-N`, a checksum of the parts' checksums)
    /// or a value of the wrong length says nothing about the content: None.
    pub fn from_base64(
        algorithm: ChecksumAlgorithm,
        value: &str,
        source: &'static str,
    ) -> Option<Self> {
        let digest = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        Self::of(algorithm, digest, source)
    }

    /// From a hex value (an ETag that is a single-part upload's MD5). A multipart ETag
    /// (`…-N`) is not a content hash: None.
    pub fn from_hex(
        algorithm: ChecksumAlgorithm,
        value: &str,
        source: &'static str,
    ) -> Option<Self> {
        let digest = hex::decode(value.trim().trim_matches('"')).ok()?;
        Self::of(algorithm, digest, source)
    }

    /// A digest of the algorithm's length; any other length states nothing.
    fn of(algorithm: ChecksumAlgorithm, digest: Vec<u8>, source: &'static str) -> Option<Self> {
        (digest.len() == algorithm.digest_len()).then_some(Self {
            algorithm,
            digest,
            source,
        })
    }

    /// A running digest to feed the downloaded bytes to.
    pub fn start(&self) -> RunningChecksum {
        RunningChecksum(match self.algorithm {
            ChecksumAlgorithm::Md5 => Running::Md5(<md5::Md5 as md5::Digest>::new()),
            ChecksumAlgorithm::Sha256 => Running::Sha256(<sha2::Sha256 as sha2::Digest>::new()),
            ChecksumAlgorithm::Crc32 => Running::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => {
                Running::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi), 4)
            }
            ChecksumAlgorithm::Crc64Nvme => {
                Running::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme), 8)
            }
        })
    }
}

/// The digest of the bytes seen so far, in one of [`ChecksumAlgorithm`]s.
pub struct RunningChecksum(Running);

enum Running {
    Md5(md5::Md5),
    Sha256(sha2::Sha256),
    Crc32(crc32fast::Hasher),
    /// A CRC of `.1` bytes.
    Crc(crc_fast::Digest, usize),
}

impl RunningChecksum {
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Running::Md5(d) => md5::Digest::update(d, data),
            Running::Sha256(d) => sha2::Digest::update(d, data),
            Running::Crc32(d) => d.update(data),
            Running::Crc(d, _) => d.update(data),
        }
    }

    /// The digest's bytes, comparable with [`ProviderChecksum::digest`].
    pub fn finish(self) -> Vec<u8> {
        match self.0 {
            Running::Md5(d) => md5::Digest::finalize(d).to_vec(),
            Running::Sha256(d) => sha2::Digest::finalize(d).to_vec(),
            Running::Crc32(d) => d.finalize().to_be_bytes().to_vec(),
            Running::Crc(d, width) => d.finalize().to_be_bytes()[8 - width..].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        let mut r = ProviderChecksum {
            algorithm,
            digest: vec![],
            source: "test",
        }
        .start();
        for chunk in data.chunks(7) {
            r.update(chunk);
        }
        r.finish()
    }

    /// The standard check values of each algorithm over "123456789", and S3's documented
    /// encodings, fed in pieces as a download arrives.
    #[test]
    fn each_algorithm_gives_its_check_value() {
        let data = b"123456789";
        assert_eq!(
            hex::encode(digest(ChecksumAlgorithm::Md5, data)),
            "25f9e794323b453885f5181f1b624d0b"
        );
        assert_eq!(
            hex::encode(digest(ChecksumAlgorithm::Crc32, data)),
            "cbf43926"
        );
        assert_eq!(
            hex::encode(digest(ChecksumAlgorithm::Crc32c, data)),
            "e3069283"
        );
        assert_eq!(
            hex::encode(digest(ChecksumAlgorithm::Crc64Nvme, data)),
            "ae8b14860a799888"
        );
        assert_eq!(
            hex::encode(digest(ChecksumAlgorithm::Sha256, b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // S3 sends the CRCs big-endian in base64: CRC-32 of "123456789" is "y/Q5Jg==".
        let stated =
            ProviderChecksum::from_base64(ChecksumAlgorithm::Crc32, "y/Q5Jg==", "x").unwrap();
        assert_eq!(stated.digest, digest(ChecksumAlgorithm::Crc32, data));
    }

    /// Composite (multipart) values and wrong lengths state nothing.
    #[test]
    fn composite_and_malformed_values_are_not_checksums() {
        use ChecksumAlgorithm::*;
        assert!(ProviderChecksum::from_base64(Crc32, "y/Q5Jg==-3", "x").is_none());
        assert!(ProviderChecksum::from_base64(Crc64Nvme, "y/Q5Jg==", "x").is_none());
        assert!(
            ProviderChecksum::from_hex(Md5, "\"9b2cf535f27731c974343645a3985328-2\"", "x")
                .is_none()
        );
        assert!(
            ProviderChecksum::from_hex(Md5, "\"25f9e794323b453885f5181f1b624d0b\"", "x").is_some()
        );
    }
}
