//! What is up, remembered in `<cache>/state.json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{LabError, LabOptions, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabHost {
    pub name: String,
    pub index: u8,
    pub address: String,
    pub booted: bool,
    /// Overlays the base image with the mail stack installed (`--preinstalled`).
    #[serde(default)]
    pub preinstalled: bool,
    pub netns: String,
    pub veth: String,
    pub dir: PathBuf,
    /// PID of systemd-nspawn (booted) or of the namespace's init (light).
    pub pid: Option<u32>,
    pub host_key_pub: String,
}

impl LabHost {
    pub fn new(name: &str, index: u8, booted: bool, preinstalled: bool, opts: &LabOptions) -> Self {
        LabHost {
            name: name.to_string(),
            index,
            address: format!("{}.{}", opts.subnet, 10 + index as u32),
            booted,
            preinstalled,
            netns: format!("mplab-{index}"),
            veth: format!("mplabv{index}"),
            dir: opts.cache_dir.join("hosts").join(name),
            pid: None,
            host_key_pub: String::new(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub fn mac(&self) -> String {
        format!("02:00:0a:e7:00:{:02x}", self.index)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LabState {
    pub hosts: Vec<LabHost>,
}

fn path(opts: &LabOptions) -> PathBuf {
    opts.cache_dir.join("state.json")
}

impl LabState {
    pub fn load(opts: &LabOptions) -> Result<LabState> {
        match std::fs::read_to_string(path(opts)) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| LabError::Setup(format!("corrupt lab state {}: {e}", path(opts).display()))),
            Err(_) => Ok(LabState::default()),
        }
    }

    pub fn save(&self, opts: &LabOptions) -> Result<()> {
        std::fs::create_dir_all(&opts.cache_dir).map_err(|e| LabError::Setup(e.to_string()))?;
        std::fs::write(path(opts), serde_json::to_string_pretty(self).expect("state serialises"))
            .map_err(|e| LabError::Setup(e.to_string()))
    }
}
