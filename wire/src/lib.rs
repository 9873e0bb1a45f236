//! What crosses a process boundary or reaches disk as a format (DESIGN §11).
