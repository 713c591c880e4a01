"""Tools around the FDW that users run from a shell (`intercom-fdw COMMAND`), apart from the core
layers (options, planning, client, shaping, the Multicorn glue). `setup` lives here; the older tools
(`demo`, `login`, `oauth`, `throwaway_pg`, `cli`) are still at the package's top level."""
