"""X11 helpers for the desktop test, on the display in $DISPLAY (python3-xlib).

    x11.py state TITLE   prints "viewable" when a top-level window titled TITLE is mapped,
                         "unmapped" when there is one but none is mapped, "absent" otherwise
    x11.py close TITLE   asks every mapped window titled TITLE to close, as a window manager
                         does when the user clicks its close button: a WM_PROTOCOLS client
                         message carrying WM_DELETE_WINDOW (the app decides what closing
                         means; nothing is destroyed from outside); prints how many it asked
"""

import sys

from Xlib import X, Xatom, display
from Xlib.protocol import event


def titled(disp, title):
    """The top-level windows (children of the root, as without a window manager) titled
    `title`, by _NET_WM_NAME or WM_NAME."""
    net_wm_name = disp.intern_atom("_NET_WM_NAME")
    utf8 = disp.intern_atom("UTF8_STRING")
    found = []
    for window in disp.screen().root.query_tree().children:
        try:
            prop = window.get_full_property(net_wm_name, utf8)
            name = prop.value.decode("utf-8", "replace") if prop else None
            if name is None:
                prop = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
                name = prop.value.decode("latin-1") if prop else None
            if name == title:
                found.append(window)
        except Exception:  # the window went away while we looked
            continue
    return found


def mapped(window):
    try:
        return window.get_attributes().map_state == X.IsViewable
    except Exception:
        return False


def main(argv):
    if len(argv) != 3 or argv[1] not in ("state", "close"):
        print(__doc__, file=sys.stderr)
        return 2
    command, title = argv[1], argv[2]
    disp = display.Display()
    windows = titled(disp, title)
    if command == "state":
        if any(mapped(w) for w in windows):
            print("viewable")
        else:
            print("unmapped" if windows else "absent")
        return 0
    wm_protocols = disp.intern_atom("WM_PROTOCOLS")
    wm_delete = disp.intern_atom("WM_DELETE_WINDOW")
    asked = 0
    for window in windows:
        if not mapped(window):
            continue
        message = event.ClientMessage(
            window=window,
            client_type=wm_protocols,
            data=(32, [wm_delete, X.CurrentTime, 0, 0, 0]),
        )
        window.send_event(message, event_mask=X.NoEventMask)
        asked += 1
    disp.sync()
    print(asked)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
