"""Full-screen views over the read model, one module each: fills, account, PnL
chart, venue health, depth and tape, strategy parameters. ``wiring`` registers
them with the app."""
