"""Built-in plugins, registered through the ``torghut.strategies`` entry points.

``legacy_macd_rsi`` (the old baseline), ``tsmom`` (time-series momentum), ``mean_reversion``
(Bollinger/RSI) and ``vol_breakout`` (Donchian breakout) — one module each, citing its source.
"""
