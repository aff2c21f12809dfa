-- Real Neovim in tmux for docs/nvim-skill-action.png (run by tests/editors/test_nvim.py).
--
-- Learns the print -> logger.info skill from two edits, puts the cursor on a third site and opens
-- the code action menu with vim.lsp.buf.code_action() (Neovim's own vim.ui.select). When the
-- menu is up it writes KENETIC_TEST_RESULT ("menu" or "error: ..."); the test then captures the
-- tmux pane. A watchdog quits after 40 s (shot.lua).

local shot = dofile(assert(os.getenv('KENETIC_REPO')) .. '/tests/editors/nvim/shot.lua')

shot.start(function()
  local client = shot.two_edits()
  vim.wait(400)
  assert(vim.wait(15000, function()
    local answer = client:request_sync('kenetic/skills', vim.empty_dict(), 3000, 0)
    return answer and answer.result and #answer.result.skills > 0
  end, 100), 'no skill learned')
  vim.api.nvim_win_set_cursor(0, { 9, 6 })
  vim.cmd('redraw!')
  -- the menu blocks in vim.ui.select (inputlist): report from a timer once it is drawn
  vim.defer_fn(function()
    shot.report('menu')
  end, 700)
  vim.lsp.buf.code_action()
end)
