#ifndef SESSIONCTL_CNCURSES_SHIM_H
#define SESSIONCTL_CNCURSES_SHIM_H
// SwiftPM drops pkg-config's -D flags ("prohibited flags"), so the wide-character API
// must be switched on here, before the header, or it stays invisible to Swift.
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <ncursesw/curses.h>
#include <locale.h>
#include <wchar.h>
#include <malloc.h>

// Not curses, but the TUI's only C door: after a big listing, freed pages go back to the
// system (glibc keeps large freed blocks otherwise, and resident memory stays at its peak).
static inline void cnc_release_free_memory(void) { malloc_trim(0); }

// Swift 6 rejects shared mutable C globals (stdscr, LINES, COLS) and cannot import
// function-like macros (getmaxyx, COLOR_PAIR, KEY_F) or A_* attribute macros: wrap them.
static inline WINDOW *cnc_stdscr(void) { return stdscr; }
static inline int cnc_lines(void) { return LINES; }
static inline int cnc_cols(void) { return COLS; }
static inline void cnc_getmaxyx(WINDOW *w, int *y, int *x) { int yy, xx; getmaxyx(w, yy, xx); *y = yy; *x = xx; }
static inline attr_t cnc_color_pair(int n) { return (attr_t)COLOR_PAIR(n); }
static inline attr_t cnc_a_bold(void) { return A_BOLD; }
static inline attr_t cnc_a_reverse(void) { return A_REVERSE; }
static inline attr_t cnc_a_underline(void) { return A_UNDERLINE; }
static inline attr_t cnc_a_dim(void) { return A_DIM; }
static inline attr_t cnc_a_normal(void) { return A_NORMAL; }
static inline int cnc_key_f(int n) { return KEY_F(n); }
// wcwidth needs _XOPEN_SOURCE, which the Swift Glibc module does not define.
static inline int cnc_wcwidth(unsigned int c) { return wcwidth((wchar_t)c); }
// COLORS is a global too; wbkgdset takes a chtype built with COLOR_PAIR.
static inline int COLORS_value(void) { return COLORS; }
static inline int wbkgdset_wrap(short pair) { wbkgdset(stdscr, ' ' | COLOR_PAIR(pair)); return 0; }
#endif
