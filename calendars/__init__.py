"""Calendar providers behind one small interface (see :mod:`calendars.base`)."""
