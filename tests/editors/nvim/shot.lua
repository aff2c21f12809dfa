-- What the screenshot scripts share (screenshot.lua, screenshot_next.lua): a quiet Neovim that
-- loads the checkout's client, reports its state to KENETIC_TEST_RESULT for
-- tests/editors/test_nvim.py, quits after 40 s whatever happens, and runs one scene after VimEnter.

vim.g.loaded_python3_provider = 0
vim.g.loaded_node_provider = 0
vim.g.loaded_perl_provider = 0
vim.g.loaded_ruby_provider = 0
vim.o.swapfile = false
vim.o.termguicolors = true
vim.o.number = true
vim.o.cursorline = true
vim.o.showmode = false
vim.o.shortmess = vim.o.shortmess .. 'FI'

local M = {}
local repo = assert(os.getenv('KENETIC_REPO'))
local ws = assert(os.getenv('KENETIC_TEST_WS'))
local result_path = assert(os.getenv('KENETIC_TEST_RESULT'))

vim.opt.rtp:prepend(repo .. '/editors/nvim')
vim.cmd('filetype on')
vim.cmd('syntax on')

function M.report(text)
  local f = assert(io.open(result_path, 'w'))
  f:write(text)
  f:close()
end

vim.defer_fn(function()
  M.report('error: watchdog')
  vim.cmd('qall!')
end, 40000)

require('kenetic').setup({
  cmd = { assert(os.getenv('KENETIC_BIN')), 'serve' },
  settings = { capture = { idleGapMs = 100 } },
})

--- Open app.py and make the two print -> logger.info edits the skill is learned from.
function M.two_edits()
  vim.cmd.edit(vim.fn.fnameescape(ws .. '/app.py'))
  assert(vim.wait(15000, function()
    local c = require('kenetic').client(0)
    return c and c.initialized
  end, 50), 'no kenetic client')
  vim.cmd('5s/print/logger.info/')
  vim.wait(400)
  vim.cmd('7s/print/logger.info/')
  vim.cmd('nohlsearch')
  return require('kenetic').client(0)
end

--- Run `scene` once Neovim has started; an error in it is reported, not left hanging.
function M.start(scene)
  vim.api.nvim_create_autocmd('VimEnter', {
    once = true,
    callback = function()
      vim.schedule(function()
        local ok, err = pcall(scene)
        if not ok then
          M.report('error: ' .. tostring(err))
        end
      end)
    end,
  })
end

return M
