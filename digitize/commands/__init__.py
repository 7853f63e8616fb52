"""Sub-commands of ``digitize``, one module per group; each has ``register(subparsers)``."""
