"""The comparative leaderboard site: columns read from the store, significance, analyses,
charts, the example explorer, publishing rules and rendering."""
