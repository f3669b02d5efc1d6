//! Packet header views and builders (see issue 3).
