# Turns a CUDA source into C++ the host compiler takes with the emulator's headers (README.md):
#   kernel<<<grid, block, smem, stream>>>(args)   ->  kernel * ::emu::Launch(grid, block, smem, stream)(args)
#   extern __shared__ [__align__(n)] T name[];     ->  T* name = static_cast<T*>(::emu::dynamic_shared_memory());
# Usage: cmake -DIN=file.cu -DOUT=file.cpp -P translate.cmake
file(READ "${IN}" src)
string(REGEX MATCHALL "<<<" opens "${src}")
string(REGEX MATCHALL ">>>" closes "${src}")
list(LENGTH opens n_open)
list(LENGTH closes n_close)
if(NOT n_open EQUAL n_close)
  message(FATAL_ERROR "${IN}: ${n_open} '<<<' but ${n_close} '>>>' (a '>>>' that is not a launch?)")
endif()
string(REPLACE "<<<" " * ::emu::Launch(" src "${src}")
string(REPLACE ">>>" ")" src "${src}")
set(shared_decl "extern __shared__ (__align__\\([0-9]+\\) )?([A-Za-z_][A-Za-z_0-9 ]*[A-Za-z_0-9]) ")
string(REGEX REPLACE "${shared_decl}([A-Za-z_][A-Za-z_0-9]*)\\[\\];"
       "\\2* \\3 = static_cast<\\2*>(::emu::dynamic_shared_memory());" src "${src}")
if(src MATCHES "extern __shared__")
  message(FATAL_ERROR "${IN}: an 'extern __shared__' declaration this script does not recognise")
endif()
file(WRITE "${OUT}" "#line 1 \"${IN}\"\n${src}")
