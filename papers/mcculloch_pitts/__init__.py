"""McCulloch, W. S. & Pitts, W. (1943). A logical calculus of the ideas immanent in nervous activity.
Bulletin of Mathematical Biophysics 5, 115-133 (reprinted Bull. Math. Biol. 52, 99-115, 1990).

All-or-none threshold neurons with one synaptic delay and absolute inhibition, nets of them simulated in
discrete time, and the paper's calculus (temporal propositional expressions, Theorems I-IV, nets with
circles) made executable, so that each theorem is checked by running it.
"""

CITATION = ("McCulloch, W. S. and Pitts, W. (1943). A logical calculus of the ideas immanent in nervous "
            "activity. Bulletin of Mathematical Biophysics, 5(4), 115-133.")
SUMMARY = "Threshold-logic neurons and the temporal propositional calculus that describes their nets."
