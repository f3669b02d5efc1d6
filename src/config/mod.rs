//! YAML configuration: schema, validation, errors naming file, line and field.
