"""``python -m simulator``: run the simulator from a shell."""

from __future__ import annotations

import argparse

from .app import run
from .config import SimConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--sellers", type=int, default=SimConfig.sellers)
    parser.add_argument("--orders-per-seller", type=int, default=SimConfig.orders_per_seller)
    parser.add_argument("--seed", type=int, default=SimConfig.seed)
    parser.add_argument("--time-scale", type=float, default=SimConfig.time_scale)
    parser.add_argument("--changes-per-minute", type=float, default=SimConfig.changes_per_minute)
    args = parser.parse_args(argv)
    config = SimConfig(
        sellers=args.sellers,
        orders_per_seller=args.orders_per_seller,
        seed=args.seed,
        time_scale=args.time_scale,
        changes_per_minute=args.changes_per_minute,
    )
    run(config, args.host, args.port)


if __name__ == "__main__":
    main()
