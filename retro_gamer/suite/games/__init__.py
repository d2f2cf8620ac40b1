"""Small retro games of the benchmark suite, one per kind of game users write.

Each is a package with its own ``pyproject.toml`` holding its
``[tool.retro-gamer]`` description, so retro-gamer finds it as it finds a
user's game: ``retro-gamer create --game retro_gamer.suite.games.wall``.
"""
