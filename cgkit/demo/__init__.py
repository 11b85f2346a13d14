"""``cgkit demo``: build a bithiophene data set with GFN2-xTB, train ECG models per map, report.

The demo runs the real pipeline (recipe -> resumable builder -> ECG map scan -> density of
states) on an embedded default and writes a markdown report with PNGs. Re-running reuses
finished steps.
"""

from cgkit.demo.pipeline import DemoConfig, run_demo

__all__ = ["DemoConfig", "run_demo"]
