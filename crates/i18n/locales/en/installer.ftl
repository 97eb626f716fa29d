# What the installed package shows in the desktop's menus
# (src-tauri/kakehashi.desktop.hbs carries them; a test keeps them equal).

installer-name = Kakehashi
installer-generic-name = Remote consultation workstation
installer-comment = Remote pathology and video consultation workstation
installer-keywords = pathology;telepathology;consultation;whole-slide;WSI;video;
