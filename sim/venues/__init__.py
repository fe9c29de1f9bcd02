"""One package per venue kind (contract); `sim.venues.registry` lists them and
`sim.venues.base` holds what every venue fulfils."""
