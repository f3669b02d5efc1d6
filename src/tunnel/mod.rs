//! Geneve encapsulation and decapsulation on a buffer trait (see issue 3).
