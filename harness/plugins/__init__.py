"""Plugin discovery: the hook specifications and the pluggy manager that loads built-in and
third-party plugins and collects what they register."""
