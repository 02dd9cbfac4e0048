"""simtrial: plan trials of repeated MSC infusions."""
