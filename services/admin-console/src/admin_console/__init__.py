"""admin-console: the brand admin's web console over the store and gateway APIs."""
