"""Shop data from CSV files (`onethread import orders|customers FILE.csv`): every row checked on its
own, so a bad row is named in the summary and never stops the good ones; a file imported again
changes nothing."""
