//! State of interrupted uploads, kept on local disk so that the next put of the same file to
//! the same destination resumes instead of starting over. One small JSON file per upload,
//! written atomically after every stored part.

use std::path::PathBuf;

use serde::{de::DeserializeOwned, Serialize};

/// A directory of resumable-upload records.
#[derive(Clone, Debug)]
pub struct ResumeStore {
    dir: PathBuf,
}

impl ResumeStore {
    /// Records live in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResumeStore { dir: dir.into() }
    }

    /// The record id for a file identity and a destination.
    pub fn id(file_identity: &str, destination: &str) -> String {
        crate::sha256_hex(format!("{file_identity}\n{destination}").as_bytes())
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The record, if one exists and parses.
    pub fn load<T: DeserializeOwned>(&self, id: &str) -> Option<T> {
        let data = std::fs::read(self.path(id)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Write the record atomically (temp file, fsync, rename).
    pub fn save<T: Serialize>(&self, id: &str, state: &T) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        // Named after the record, so that one left by a killed process is found and removed.
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{id}."))
            .suffix(".tmp")
            .tempfile_in(&self.dir)?;
        tmp.write_all(&serde_json::to_vec(state)?)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.path(id)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Forget the record, and any unfinished write of it left by a killed process.
    pub fn remove(&self, id: &str) {
        let _ = std::fs::remove_file(self.path(id));
        let prefix = format!(".{id}.");
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResumeStore::new(dir.path().join("resume"));
        let id = ResumeStore::id("file", "s3://b/k");
        assert_ne!(id, ResumeStore::id("file", "s3://b/k2"));
        assert_eq!(store.load::<Vec<u32>>(&id), None);
        store.save(&id, &vec![1u32, 2]).unwrap();
        assert_eq!(store.load::<Vec<u32>>(&id), Some(vec![1, 2]));
        store.remove(&id);
        assert_eq!(store.load::<Vec<u32>>(&id), None);
    }

    #[test]
    fn remove_clears_an_unfinished_write_of_that_record_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResumeStore::new(dir.path());
        let (id, other) = (ResumeStore::id("a", "d"), ResumeStore::id("b", "d"));
        store.save(&id, &1u32).unwrap();
        store.save(&other, &2u32).unwrap();
        // What a process killed between writing and renaming leaves behind.
        let stale = dir.path().join(format!(".{id}.x1y2z3.tmp"));
        std::fs::write(&stale, b"[1]").unwrap();
        store.remove(&id);
        assert!(!stale.exists());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec![format!("{other}.json")]);
        assert_eq!(store.load::<u32>(&other), Some(2));
    }
}
