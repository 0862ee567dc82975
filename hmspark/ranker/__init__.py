"""The ranking stage: training data from past cutoffs, the LightGBM lambdarank model, scoring."""
