-- Headless Neovim with `kenetic` not on PATH and only `vim.lsp.enable('kenetic')` (issue 19,
-- bug 5). Run by tests/editors/test_nvim.py twice: with the plugin in this checkout, the client
-- starts the checkout's .venv/bin/kenetic; with a copy of the plugin outside any checkout
-- (KENETIC_TEST_PLUGIN), nothing can start and the user is told so once.

local H = dofile(assert(os.getenv('KENETIC_REPO')) .. '/tests/editors/nvim/harness.lua')
local plugin = os.getenv('KENETIC_TEST_PLUGIN')

vim.opt.rtp:prepend(plugin or (H.repo .. '/editors/nvim'))
vim.cmd('filetype on')
vim.lsp.enable('kenetic')

H.run(function()
  if plugin then
    H.step('without kenetic anywhere the user is told once', function()
      assert(vim.fn.executable('kenetic') == 0, 'kenetic is on PATH: ' .. vim.fn.exepath('kenetic'))
      vim.cmd.edit(vim.fn.fnameescape(H.ws .. '/app.py'))
      vim.cmd.edit(vim.fn.fnameescape(H.ws .. '/other.py'))
      H.sleep(300)
      local said = H.messages_matching('not found')
      assert(#said == 1, vim.inspect(H.messages))
      assert(H.client() == nil, 'a client started')
      return said[1].msg
    end)
    return
  end
  H.step('without kenetic on PATH the checkout .venv/bin/kenetic is started', function()
    assert(vim.fn.executable('kenetic') == 0, 'kenetic is on PATH: ' .. vim.fn.exepath('kenetic'))
    vim.cmd.edit(vim.fn.fnameescape(H.ws .. '/app.py'))
    local client = H.poll(15000, function()
      local c = H.client()
      return c and c.initialized and c
    end, 'the kenetic client')
    local want = H.repo .. '/.venv/bin/kenetic'
    assert(client.config.cmd[1] == want, ('cmd %s, expected %s'):format(client.config.cmd[1], want))
    assert(#H.messages_matching('not found') == 0, vim.inspect(H.messages))
    return client.config.cmd
  end)
end)
