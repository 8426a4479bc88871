/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the Windows
 * builds under wine 8.0 (Debian 12's wine64) in the reliability suite.
 *
 * Why: Go >= 1.22 gets its random bytes from ProcessPrng in
 * bcryptprimitives.dll (Windows 10 and later). Wine 8.0 has no such DLL, so
 * every Go program dies at start with "bcryptprimitives.dll not found".
 * This DLL exports ProcessPrng and forwards it to BCryptGenRandom, which
 * wine does implement. It changes nothing the library does; it only lets a
 * Go program start under wine. Real Windows never loads it.
 *
 * Built by the suite (windows_test.go) with
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -lbcrypt
 * and copied into the test prefix's C:\windows\system32.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        /* BCryptGenRandom takes a ULONG length: hand it large requests in parts. */
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) { return TRUE; }
