//! Flood replication and segmentation decisions.
